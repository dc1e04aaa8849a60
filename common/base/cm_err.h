/*
 * cm_err.h — the one error table of Tessera.
 *
 * Every function that can fail returns 0 or a negative CM_E_* code and, when given a cm_err,
 * fills it with the code and a message with context. Errors that reach MySQL clients carry a
 * MySQL error number and SQLSTATE from the same table (0 / "HY000" where no specific one exists,
 * which the SQL layer reports as ER_UNKNOWN_ERROR 1105). Codes are stable: they travel on the wire
 * between processes, so an entry is never renumbered, only appended.
 */
#ifndef CM_ERR_H
#define CM_ERR_H

#include <stdarg.h>
#include <stddef.h>

/* X(name, code, mysql_errno, sqlstate, message) */
#define CM_ERROR_TABLE(X)                                                                          \
    X(OK, 0, 0, "00000", "ok")                                                                     \
    /* generic */                                                                                  \
    X(NOMEM, -1, 1037, "HY001", "out of memory")                                                   \
    X(INVALID, -2, 1105, "HY000", "invalid argument")                                              \
    X(CORRUPT, -3, 1105, "HY000", "corrupt or truncated input")                                    \
    X(IO, -4, 1105, "HY000", "I/O error")                                                          \
    X(TIMEOUT, -5, 1105, "HY000", "deadline exceeded")                                             \
    X(UNAVAILABLE, -6, 1105, "HY000", "peer unavailable")                                          \
    X(NOT_FOUND, -7, 1105, "HY000", "not found")                                                   \
    X(EXISTS, -8, 1105, "HY000", "already exists")                                                 \
    X(CONFIG, -9, 1105, "HY000", "bad configuration")                                              \
    X(TOO_LARGE, -10, 1153, "08S01", "message larger than the allowed maximum")                    \
    X(CLOSED, -11, 1105, "HY000", "closed")                                                        \
    X(INTERNAL, -12, 1105, "HY000", "internal error")                                              \
    X(UNSUPPORTED, -13, 1235, "42000", "not supported")                                            \
    X(BUSY, -14, 1105, "HY000", "busy")                                                            \
    X(CANCELLED, -15, 1317, "70100", "query execution was interrupted")                            \
    X(BIGINT_RANGE, -290, 1690, "22003", "BIGINT value is out of range")                           \
    /* RPC */                                                                                      \
    X(RPC_BAD_FRAME, -30, 1105, "HY000", "malformed RPC frame")                                    \
    X(RPC_NO_METHOD, -31, 1105, "HY000", "unknown RPC method")                                     \
    X(RPC_BAD_MESSAGE, -32, 1105, "HY000", "RPC message does not decode")                          \
    /* region errors (KV layer) */                                                                 \
    X(NOT_LEADER, -50, 9005, "HY000", "region is not led by this store")                           \
    X(EPOCH_NOT_MATCH, -51, 9005, "HY000", "region epoch does not match")                          \
    X(REGION_NOT_FOUND, -52, 9005, "HY000", "region not found")                                    \
    X(KEY_NOT_IN_REGION, -53, 9005, "HY000", "key not in region")                                  \
    X(SERVER_IS_BUSY, -54, 9003, "HY000", "KV server is busy")                                     \
    X(STALE_EPOCH, -55, 9005, "HY000", "stale region report")                                      \
    X(STALE_COMMAND, -56, 9005, "HY000", "command dropped by a leadership change; retry")          \
    /* transactions */                                                                             \
    X(KEY_IS_LOCKED, -70, 1205, "HY000", "key is locked by another transaction")                   \
    X(WRITE_CONFLICT, -71, 9007, "HY000", "write conflict")                                        \
    X(TXN_ROLLED_BACK, -72, 1105, "HY000", "transaction was rolled back")                          \
    X(TXN_LOCK_NOT_FOUND, -73, 1105, "HY000", "transaction lock not found")                        \
    X(TXN_UNDETERMINED, -74, 8110, "HY000", "commit outcome undetermined")                         \
    X(DEADLOCK, -75, 1213, "40001",                                                                \
      "Deadlock found when trying to get lock; try restarting transaction")                        \
    X(TXN_COMMITTED, -76, 1105, "HY000", "transaction already committed")                          \
    X(GC_TOO_EARLY, -77, 9006, "HY000", "GC life time is shorter than transaction duration")       \
    /* MySQL-facing */                                                                             \
    X(ACCESS_DENIED, -100, 1045, "28000", "Access denied")                                         \
    /* privileges (sqlnode/session/sql_priv.c) */                                                  \
    X(TABLE_ACCESS_DENIED, -400, 1142, "42000", "command denied to user for table")                \
    X(DB_ACCESS_DENIED, -401, 1044, "42000", "Access denied for user to database")                 \
    X(SPECIFIC_ACCESS_DENIED, -402, 1227, "42000", "Access denied; you need a privilege")          \
    X(CANNOT_USER, -403, 1396, "HY000", "Operation failed for a user")                             \
    X(PASSWORD_NO_MATCH, -404, 1133, "42000", "Can't find any matching row in the user table")     \
    X(NONEXISTING_GRANT, -405, 1141, "42000", "There is no such grant defined for user")           \
    X(NONEXISTING_TABLE_GRANT, -406, 1147, "42000", "There is no such grant defined on table")     \
    X(ILLEGAL_GRANT, -407, 1144, "42000", "Illegal GRANT/REVOKE command")                          \
    X(KILL_DENIED, -408, 1095, "HY000", "You are not owner of thread")                             \
    X(USER_WITH_GRANT, -409, 1410, "42000", "You are not allowed to create a user with GRANT")     \
    X(WRONG_STRING_LENGTH, -411, 1470, "HY000", "String is too long")                              \
    X(PASSWORD_FORMAT, -412, 1827, "HY000", "The password hash doesn't have the expected format.") \
    X(PARSE, -101, 1064, "42000", "You have an error in your SQL syntax")                          \
    X(UNKNOWN_COM, -102, 1047, "08S01", "Unknown command")                                         \
    X(DUP_ENTRY, -103, 1062, "23000", "Duplicate entry")                                           \
    X(NO_SUCH_TABLE, -104, 1146, "42S02", "Table doesn't exist")                                   \
    X(BAD_DB, -105, 1049, "42000", "Unknown database")                                             \
    X(NO_DB, -106, 1046, "3D000", "No database selected")                                          \
    X(TOO_MANY_CONN, -107, 1040, "08004", "Too many connections")                                  \
    X(NET_PACKET_TOO_LARGE, -108, 1153, "08S01", "Got a packet bigger than 'max_allowed_packet'")  \
    X(UNKNOWN_SYSVAR, -109, 1193, "HY000", "Unknown system variable")                              \
    X(SECURE_TRANSPORT, -110, 3159, "HY000",                                                       \
      "Connections using insecure transport are prohibited while --require_secure_transport=ON.")  \
    X(OUT_OF_RANGE, -111, 1264, "22003", "Out of range value")                                     \
    X(DATA_TOO_LONG, -112, 1406, "22001", "Data too long")                                         \
    /* MySQL column types (sqlnode/types): strict-mode store errors and bad type declarations */   \
    X(INCORRECT_VALUE, -160, 1366, "HY000", "Incorrect value for column")                          \
    X(DATA_TRUNCATED, -161, 1265, "01000", "Data truncated for column")                            \
    X(INVALID_JSON, -162, 3140, "22032", "Invalid JSON text")                                      \
    X(INVALID_JSON_ARG, -310, 3141, "22032", "Invalid JSON text in argument")                      \
    X(INVALID_JSON_PATH, -311, 3143, "42000", "Invalid JSON path expression")                      \
    X(JSON_BAD_PATH_TOKEN, -312, 3149, "42000", "Path expressions may not contain * and **")       \
    X(JSON_NULL_KEY, -313, 3158, "22032", "JSON documents may not contain NULL member names")      \
    X(REGEXP_INDEX, -314, 3686, "HY000", "Index out of bounds in regular expression search")       \
    X(TOO_BIG_FIELDLENGTH, -163, 1074, "42000", "Column length too big")                           \
    X(TOO_BIG_PRECISION, -164, 1426, "42000", "Too-big precision")                                 \
    X(TOO_BIG_SCALE, -165, 1425, "42000", "Too big scale")                                         \
    X(M_BIGGER_THAN_D, -166, 1427, "42000", "M must be >= D")                                      \
    X(DUPLICATED_VALUE_IN_TYPE, -167, 1291, "HY000", "Column has duplicated value")                \
    X(TOO_BIG_DISPLAYWIDTH, -168, 1439, "42000", "Display width out of range")                     \
    X(TOO_BIG_SET, -169, 1097, "HY000", "Too many strings for column")                             \
    X(COLLATION_CHARSET_MISMATCH, -170, 1253, "42000", "COLLATION is not valid for CHARACTER SET") \
    X(INVALID_YEAR_COLUMN_LENGTH, -171, 1818, "HY000", "Supports only YEAR or YEAR(4) column")     \
    X(WRONG_FIELD_SPEC, -172, 1063, "42000", "Incorrect column specifier")                         \
    X(ILLEGAL_VALUE_FOR_TYPE, -173, 1367, "22007", "Illegal value found during parsing")           \
    X(SCHEMA_CHANGED, -113, 8028, "HY000", "Information schema is changed")                        \
    X(QUERY_INTERRUPTED, -114, 1317, "70100", "Query execution was interrupted")                   \
    X(UNKNOWN_TABLE, -292, 1109, "42S02", "Unknown table")                                         \
    X(SP_DOES_NOT_EXIST, -293, 1305, "42000", "SAVEPOINT does not exist")                          \
    /* online DDL (sqlnode/catalog: jobs, schema lease, ADMIN) */                                  \
    X(SCHEMA_OUT_OF_DATE, -500, 8027, "HY000",                                                     \
      "Information schema is out of date: schema failed to update in 1 lease")                     \
    X(DDL_CANCELLED, -501, 8214, "HY000", "Cancelled DDL job")                                     \
    X(ADMIN_CHECK, -502, 8003, "HY000", "ADMIN CHECK TABLE/INDEX found an inconsistency")          \
    X(DDL_JOB_NOT_FOUND, -503, 8223, "HY000", "DDL job not found")                                 \
    X(DDL_NOT_CANCELLABLE, -504, 8224, "HY000", "This DDL job can no longer be cancelled")         \
    X(DDL_OWNER_LOST, -505, 8225, "HY000", "The DDL owner lost its lease")                         \
    X(CANT_REMOVE_ALL_FIELDS, -510, 1090, "42000",                                                 \
      "You can't delete all columns with ALTER TABLE; use DROP TABLE instead")                     \
    /* catalog and DDL (sqlnode/catalog) */                                                        \
    X(DB_CREATE_EXISTS, -200, 1007, "HY000", "Can't create database; database exists")             \
    X(DB_DROP_EXISTS, -201, 1008, "HY000", "Can't drop database; database doesn't exist")          \
    X(TABLE_EXISTS, -202, 1050, "42S01", "Table already exists")                                   \
    X(BAD_TABLE, -203, 1051, "42S02", "Unknown table")                                             \
    X(TOO_LONG_IDENT, -204, 1059, "42000", "Identifier name is too long")                          \
    X(DUP_FIELDNAME, -205, 1060, "42S21", "Duplicate column name")                                 \
    X(DUP_KEYNAME, -206, 1061, "42000", "Duplicate key name")                                      \
    X(INVALID_DEFAULT, -208, 1067, "42000", "Invalid default value")                               \
    X(MULTIPLE_PRI_KEY, -209, 1068, "42000", "Multiple primary key defined")                       \
    X(TOO_MANY_KEYS, -210, 1069, "42000", "Too many keys specified; max 64 keys allowed")          \
    X(TOO_MANY_KEY_PARTS, -211, 1070, "42000",                                                     \
      "Too many key parts specified; max 16 parts allowed")                                        \
    X(TOO_LONG_KEY, -212, 1071, "42000",                                                           \
      "Specified key was too long; max key length is 3072 bytes")                                  \
    X(KEY_COLUMN_MISSING, -213, 1072, "42000", "Key column doesn't exist in table")                \
    X(WRONG_AUTO_KEY, -214, 1075, "42000",                                                         \
      "Incorrect table definition; only one auto column, defined as a key")                        \
    X(CANT_DROP_KEY, -215, 1091, "42000", "Can't DROP; check that column/key exists")              \
    X(WRONG_DB_NAME, -216, 1102, "42000", "Incorrect database name")                               \
    X(WRONG_TABLE_NAME, -217, 1103, "42000", "Incorrect table name")                               \
    X(BLOB_CANT_HAVE_DEFAULT, -218, 1101, "42000",                                                 \
      "BLOB, TEXT, GEOMETRY or JSON column can't have a default value")                            \
    X(TABLE_NO_COLUMNS, -219, 1113, "42000", "A table must have at least 1 column")                \
    X(TOO_MANY_FIELDS, -220, 1117, "HY000", "Too many columns")                                    \
    X(WRONG_COLUMN_NAME, -221, 1166, "42000", "Incorrect column name")                             \
    X(BLOB_KEY_NO_LENGTH, -222, 1170, "42000",                                                     \
      "BLOB/TEXT column used in key specification without a key length")                           \
    X(PRIMARY_CANT_HAVE_NULL, -223, 1171, "42000", "All parts of a PRIMARY KEY must be NOT NULL")  \
    X(WRONG_NAME_FOR_INDEX, -224, 1280, "42000", "Incorrect index name")                           \
    X(WRONG_SUB_KEY, -225, 1089, "HY000", "Incorrect prefix key")                                  \
    X(JSON_USED_AS_KEY, -226, 3152, "42000", "JSON column cannot be used in key specification")    \
    X(NONUNIQ_TABLE, -227, 1066, "42000", "Not unique table/alias")                                \
    X(KEY_DOES_NOT_EXIST, -228, 1176, "42000", "Key doesn't exist in table")                       \
    X(TOO_LONG_TABLE_COMMENT, -229, 1628, "HY000", "Comment for table is too long")                \
    X(TOO_LONG_FIELD_COMMENT, -230, 1629, "HY000", "Comment for field is too long")                \
    X(TOO_LONG_INDEX_COMMENT, -231, 1688, "HY000", "Comment for index is too long")                \
    /* MySQL protocol and sessions (sqlnode/mysql, sqlnode/session) */                             \
    X(HANDSHAKE, -115, 1043, "08S01", "Bad handshake")                                             \
    X(NO_SUCH_THREAD, -116, 1094, "HY000", "Unknown thread id")                                    \
    X(PACKETS_OUT_OF_ORDER, -117, 1156, "08S01", "Got packets out of order")                       \
    X(NET_READ_TIMEOUT, -118, 1159, "08S01", "Got timeout reading communication packets")          \
    X(UNKNOWN_STMT, -119, 1243, "HY000", "Unknown prepared statement handler")                     \
    X(WRONG_ARGUMENTS, -120, 1210, "HY000", "Incorrect arguments")                                 \
    X(WRONG_VALUE_FOR_VAR, -121, 1231, "42000", "Variable can't be set to the value")              \
    X(VAR_SCOPE, -122, 1238, "HY000", "Variable has another scope or is read only")                \
    X(GLOBAL_VAR, -123, 1229, "HY000", "Variable is a GLOBAL variable")                            \
    X(LOCAL_VAR, -124, 1228, "HY000", "Variable is a SESSION variable")                            \
    X(WRONG_TYPE_FOR_VAR, -125, 1232, "42000", "Incorrect argument type to variable")              \
    X(EMPTY_QUERY, -126, 1065, "42000", "Query was empty")                                         \
    X(UNKNOWN_CHARSET, -127, 1115, "42000", "Unknown character set")                               \
    X(UNKNOWN_COLLATION, -128, 1273, "HY000", "Unknown collation")                                 \
    X(UNKNOWN_TIME_ZONE, -129, 1298, "HY000", "Unknown or incorrect time zone")                    \
    X(SERVER_SHUTDOWN, -130, 1053, "08S01", "Server shutdown in progress")                         \
    X(MALFORMED_PACKET, -131, 1835, "HY000", "Malformed communication packet")                     \
    X(AUTH_MODE, -132, 1251, "08004", "Client does not support the authentication protocol")       \
    X(MAX_PREPARED, -133, 1461, "42000", "Too many prepared statements")                           \
    X(NO_SUCH_FUNCTION, -134, 1305, "42000", "FUNCTION does not exist")                            \
    X(BAD_FIELD, -135, 1054, "42S22", "Unknown column")                                            \
    X(WRONG_PARAMCOUNT, -136, 1582, "42000",                                                       \
      "Incorrect parameter count in the call to a function")                                       \
    X(DEPRECATED, -137, 1287, "HY000", "deprecated syntax")                                        \
    X(TRUNCATED_VALUE, -138, 1292, "22007", "Truncated incorrect value")                           \
    X(QUERY_TIMEOUT, -139, 3024, "HY000",                                                          \
      "Query execution was interrupted, maximum statement execution time exceeded")                \
    X(BAD_NULL, -150, 1048, "23000", "Column cannot be null")                                      \
    X(READ_ONLY_TXN, -151, 1792, "25006", "Cannot execute statement in a READ ONLY transaction.")  \
    X(WRONG_VALUE_COUNT, -157, 1136, "21S01", "Column count doesn't match value count")            \
    X(WRONG_USAGE, -187, 1221, "HY000", "Incorrect usage")                                         \
    X(UNKNOWN_TABLE_MULTI_DELETE, -188, 1109, "42S02", "Unknown table in MULTI DELETE")            \
    X(MULTI_UPDATE_KEY_CONFLICT, -189, 1706, "HY000",                                              \
      "Primary key/partition key update is not allowed since the table is updated both ways")      \
    X(NON_UPDATABLE_TABLE, -190, 1288, "HY000", "The target table is not updatable")               \
    X(NON_UNIQ_FIELD, -158, 1052, "23000", "Column in field list is ambiguous")                    \
    X(NO_DEFAULT_FOR_FIELD, -159, 1364, "HY000", "Field doesn't have a default value")             \
    X(CTE_RECURSION, -3636, 3636, "HY000", "Recursive query aborted")

enum {
#define CM_ERR_ENUM_(name, code, my, st, msg) CM_E_##name = (code),
    CM_ERROR_TABLE(CM_ERR_ENUM_)
#undef CM_ERR_ENUM_
};
#define CM_OK 0

/* Longest message kept with an error; longer ones are cut (why: fits in one MySQL error packet
 * with room to spare and is plenty for context). */
#define CM_ERR_MSG_MAX 512

typedef struct cm_err {
    int code;                 /* 0 or a CM_E_* code */
    char msg[CM_ERR_MSG_MAX]; /* NUL-terminated, with context */
} cm_err;

/* Sets *err (when err is not NULL) to code and a printf-formatted message; returns code so
 * callers can write `return cm_err_set(err, CM_E_CORRUPT, "…")`. */
int cm_err_set(cm_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int cm_err_vset(cm_err *err, int code, const char *fmt, va_list ap);
/* Clears *err to CM_OK with an empty message. */
void cm_err_clear(cm_err *err);

/* Table look-ups; unknown codes answer as CM_E_INTERNAL's row. Returned strings are static. */
const char *cm_err_name(int code);
const char *cm_err_message(int code);
int cm_err_mysql_errno(int code);
const char *cm_err_sqlstate(int code);
/* Whether code is in the table. */
int cm_err_known(int code);

#endif
