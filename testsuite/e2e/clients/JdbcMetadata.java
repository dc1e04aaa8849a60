// JdbcMetadata — prints what MariaDB Connector/J's ResultSetMetaData reports for a table with
// every common column type and for a few expressions, once over the text protocol and once over
// server-side prepared statements (binary protocol). test_jdbc_metadata.py compares the lines
// with the values it states. Usage: java JdbcMetadata PORT DATABASE
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.Statement;

public class JdbcMetadata {
    static final String CREATE = "CREATE TABLE m ("
            + "id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
            + "ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED, "
            + "mi MEDIUMINT, mu MEDIUMINT UNSIGNED, i INT NOT NULL, iu INT UNSIGNED, "
            + "bi BIGINT, bu BIGINT UNSIGNED, dec1 DECIMAL(10,2), fl FLOAT, db DOUBLE, "
            + "ch CHAR(5), vc VARCHAR(20) NOT NULL, tx TEXT, bl BLOB, bn BINARY(4), vb VARBINARY(8), "
            + "dt DATE, dtm DATETIME(3), ts TIMESTAMP NULL, tm TIME, yr YEAR, "
            + "en ENUM('a','bb'), st SET('x','y'), bt BIT(8), js JSON, "
            + "UNIQUE KEY uk_vc (vc), KEY k_i (i))";
    static final String INSERT = "INSERT INTO m (ti, tu, si, su, mi, mu, i, iu, bi, bu, dec1, fl, db, "
            + "ch, vc, tx, bl, bn, vb, dt, dtm, ts, tm, yr, en, st, bt, js) VALUES (-1, 1, -2, 2, -3, "
            + "3, 4, 5, -6, 7, 12.50, 1.5, 2.25, 'ab', 'hello', 'text', 'blob', 'bin', 'vbin', "
            + "'2024-01-02', '2024-01-02 03:04:05.678', '2024-01-02 03:04:05', '10:11:12', 2024, "
            + "'bb', 'x,y', b'101', '{\"a\": 1}')";
    static final String EXPRS = "SELECT 1/2, COUNT(*), SUM(dec1), CONCAT(vc, 'x'), AVG(i), "
            + "SUM(i), dec1 * 2, 0.1 + 0.2, db / 2 FROM m";

    static void dump(String tag, ResultSet r) throws Exception {
        ResultSetMetaData md = r.getMetaData();
        r.next();
        for (int k = 1; k <= md.getColumnCount(); k++) {
            System.out.println(tag + " " + md.getColumnLabel(k) + "|" + md.getColumnType(k) + "|"
                    + md.getColumnTypeName(k) + "|" + md.getPrecision(k) + "|" + md.getScale(k)
                    + "|" + md.isNullable(k) + "|" + md.isSigned(k) + "|"
                    + md.getColumnDisplaySize(k) + "|" + md.isAutoIncrement(k));
        }
    }

    static void values(String tag, ResultSet r) throws Exception {
        ResultSetMetaData md = r.getMetaData();
        r.next();
        StringBuilder b = new StringBuilder(tag);
        for (int k = 1; k <= md.getColumnCount(); k++) {
            b.append(k == 1 ? " " : "|").append(r.getString(k));
        }
        System.out.println(b);
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:mariadb://127.0.0.1:" + args[0] + "/" + args[1]
                + "?user=root&connectTimeout=10000&socketTimeout=60000";
        try (Connection c = DriverManager.getConnection(url);
                Connection p = DriverManager.getConnection(url + "&useServerPrepStmts=true")) {
            try (Statement s = c.createStatement()) {
                s.execute(CREATE);
                s.execute(INSERT);
                try (ResultSet r = s.executeQuery("SELECT * FROM m")) {
                    dump("text", r);
                }
                try (ResultSet r = s.executeQuery(EXPRS)) {
                    dump("text", r);
                }
                try (ResultSet r = s.executeQuery(EXPRS)) {
                    values("text-values", r);
                }
            }
            try (PreparedStatement ps = p.prepareStatement("SELECT * FROM m WHERE id > ?")) {
                ps.setInt(1, 0);
                try (ResultSet r = ps.executeQuery()) {
                    dump("binary", r);
                }
            }
            try (PreparedStatement ps = p.prepareStatement(EXPRS + " WHERE id > ?")) {
                ps.setInt(1, 0);
                try (ResultSet r = ps.executeQuery()) {
                    dump("binary", r);
                }
                try (ResultSet r = ps.executeQuery()) {
                    values("binary-values", r);
                }
            }
        }
    }
}
