// JdbcMeta — prints what MariaDB Connector/J's DatabaseMetaData answers for one database, one
// line per row (test_introspection_clients.py compares the lines). Usage: JdbcMeta PORT DB TABLE
import java.sql.*;

public class JdbcMeta {
    static void dump(String what, ResultSet rs, String... cols) throws SQLException {
        while (rs.next()) {
            StringBuilder sb = new StringBuilder(what);
            for (String c : cols) {
                sb.append('|').append(rs.getString(c));
            }
            System.out.println(sb);
        }
    }

    public static void main(String[] a) throws Exception {
        String url = "jdbc:mariadb://127.0.0.1:" + a[0] + "/" + a[1] + "?user=root";
        try (Connection c = DriverManager.getConnection(url)) {
            DatabaseMetaData md = c.getMetaData();
            dump("table", md.getTables(a[1], null, "%", null), "TABLE_NAME", "TABLE_TYPE");
            dump("column", md.getColumns(a[1], null, a[2], "%"), "COLUMN_NAME", "TYPE_NAME",
                 "COLUMN_SIZE", "IS_NULLABLE", "IS_AUTOINCREMENT");
            dump("pk", md.getPrimaryKeys(a[1], null, a[2]), "COLUMN_NAME", "KEY_SEQ", "PK_NAME");
            dump("index", md.getIndexInfo(a[1], null, a[2], false, false), "INDEX_NAME",
                 "NON_UNIQUE", "COLUMN_NAME", "ORDINAL_POSITION");
            dump("catalog", md.getCatalogs(), "TABLE_CAT");
        }
        /* information_schema through a server-side prepared statement (binary protocol) */
        try (Connection c = DriverManager.getConnection(url + "&useServerPrepStmts=true");
             PreparedStatement ps = c.prepareStatement(
                 "SELECT COLUMN_NAME, ORDINAL_POSITION FROM information_schema.COLUMNS "
                 + "WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION")) {
            ps.setString(1, a[1]);
            ps.setString(2, a[2]);
            try (ResultSet rs = ps.executeQuery()) {
                ResultSetMetaData rm = rs.getMetaData();
                for (int i = 1; i <= rm.getColumnCount(); i++) {
                    System.out.println("prepmeta|" + rm.getColumnName(i) + "|"
                                       + rm.getColumnTypeName(i));
                }
                while (rs.next()) {
                    System.out.println("prep|" + rs.getString(1) + "|" + rs.getLong(2));
                }
            }
        }
    }
}
