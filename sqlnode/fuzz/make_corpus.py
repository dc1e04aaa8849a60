#!/usr/bin/python3
"""Writes the seed corpus of fuzz_mysql_packet (corpus_mysql_packet/): command streams in the
target's input format (mode byte, then client bytes). Run from this directory; the files are
committed, this script documents how they were made."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus_mysql_packet")


def pkt(seq, payload):
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


def lenenc_str(b):
    assert len(b) < 251
    return bytes([len(b)]) + b


def com(byte, payload=b""):
    return pkt(0, bytes([byte]) + payload)


def query(sql):
    return com(0x03, sql.encode())


def execute(stmt, types, values, nulls=0, bound=1):
    body = struct.pack("<IBI", stmt, 0, 1)
    if types:
        body += bytes([nulls]) + bytes([bound])
        if bound:
            body += b"".join(struct.pack("<H", t) for t in types)
        body += values
    return com(0x17, body)


seeds = {
    "select": (6, query("SELECT 1, 'a', NULL, 1.5, NOW(), @@version")),
    "set_show": (2, query("SET NAMES utf8mb4") + query("SET @a = 1, sql_mode = concat(@@sql_mode, ',ANSI')")
                 + query("SHOW VARIABLES LIKE 'char%'") + query("SHOW WARNINGS")),
    "multi": (6, query("SELECT 1; SELECT 2; SET autocommit=0; BEGIN; COMMIT")),
    "functions": (2, query("SELECT CONCAT('a', 'b'), SUBSTRING('hello', 2), REPEAT('x', 3), "
                           "HEX(255), IF(1, 2, 3), CAST('1' AS SIGNED), 1 <=> NULL, 7 DIV 2")),
    "prepared": (0, com(0x16, b"SELECT ? + 1, ?") +
                 execute(1, [8, 253], struct.pack("<q", 41) + lenenc_str(b"xy")) +
                 execute(1, [8, 253], struct.pack("<q", 1) + lenenc_str(b"z"), bound=0) +
                 com(0x18, struct.pack("<IH", 1, 1) + b"long") +
                 execute(1, [8, 253], struct.pack("<q", 2), bound=0) +
                 com(0x1a, struct.pack("<I", 1)) + com(0x19, struct.pack("<I", 1))),
    "temporal_params": (2, com(0x16, b"SELECT ?, ?, ?") +
                        execute(1, [12, 11, 246], bytes([7]) + struct.pack("<HBBBBB", 2024, 2, 29, 1, 2, 3)
                                + bytes([8, 1]) + struct.pack("<IBBB", 1, 2, 3, 4) + lenenc_str(b"1.5"))),
    "commands": (0, com(0x0e) + com(0x02, b"db1") + com(0x09) + com(0x1b, b"\x00\x00") +
                 com(0x1f) + com(0x04, b"t\x00") + com(0x0c, struct.pack("<I", 1)) +
                 com(0x11, b"root\x00\x00db\x00\x2d\x00mysql_native_password\x00") + com(0x01)),
    "errors": (2, query("SELECT * FROM t") + query("INSERT INTO t VALUES (1)") +
               query("SELECT @@nope") + query("CREATE TABLE t (a INT)") + query("SELEC 1")),
}

HANDSHAKE_CAPS = 0x00000200 | 0x00008000 | 0x00080000 | 0x00200000 | 0x01000000 | 0x00010000 | 0x8
hs = struct.pack("<IIB", HANDSHAKE_CAPS, 1 << 24, 45) + bytes(23) + b"root\x00" + b"\x00" + \
    b"test\x00" + b"mysql_native_password\x00"
seeds["handshake"] = (1, pkt(1, hs) + query("SELECT DATABASE()"))
hs2 = struct.pack("<IIB", HANDSHAKE_CAPS, 1 << 24, 45) + bytes(23) + b"alice\x00" + b"\x00" + \
    b"x\x00" + b"caching_sha2_password\x00"
seeds["handshake_sha2"] = (1, pkt(1, hs2) + pkt(3, b"\x02"))

os.makedirs(OUT, exist_ok=True)
for name, (mode, body) in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([mode]) + body)
print(f"wrote {len(seeds)} seeds to {OUT}")
