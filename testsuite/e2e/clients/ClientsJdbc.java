// ClientsJdbc.java — the clients scenario of test_clients_sql.py through MariaDB Connector/J
// with server-side prepared statements: prints the same lines the test expects.
// Usage: java -cp mariadb-java-client.jar:. ClientsJdbc PORT DATABASE
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

public class ClientsJdbc {
    static final String[] CUSTS = {"ann", "bob", "cy", "dee"};

    static long count(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet r = s.executeQuery(sql)) {
            r.next();
            return r.getLong(1);
        }
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:mariadb://127.0.0.1:" + args[0] + "/" + args[1]
                + "?user=root&useServerPrepStmts=true&connectTimeout=10000&socketTimeout=60000";
        try (Connection c = DriverManager.getConnection(url);
                Connection c2 = DriverManager.getConnection(url)) {
            try (Statement s = c.createStatement()) {
                s.execute("CREATE TABLE orders (id INT NOT NULL PRIMARY KEY, ref VARCHAR(10) NOT NULL, "
                        + "cust VARCHAR(10) NOT NULL, amount DECIMAL(10,2) NOT NULL, "
                        + "UNIQUE KEY uk_ref (ref), KEY idx_cust_amount (cust, amount))");
            }
            c.setAutoCommit(false);
            c2.setAutoCommit(false);
            try (PreparedStatement ins = c.prepareStatement(
                    "INSERT INTO orders (id, ref, cust, amount) VALUES (?, ?, ?, ?)")) {
                for (int i = 1; i <= 20; i++) {
                    ins.setInt(1, i);
                    ins.setString(2, String.format("r%03d", i));
                    ins.setString(3, CUSTS[i % 4]);
                    ins.setBigDecimal(4, new BigDecimal(String.format("%d.%02d", i * 7 % 23, i * 13 % 100)));
                    ins.addBatch();
                }
                ins.executeBatch();
            }
            c.commit();
            System.out.println("count " + count(c, "SELECT COUNT(*) FROM orders"));
            try (PreparedStatement q = c.prepareStatement(
                    "SELECT id, cust, amount FROM orders WHERE ref = ?")) {
                q.setString(1, "r007");
                try (ResultSet r = q.executeQuery()) {
                    r.next();
                    System.out.println("unique r007: " + r.getInt(1) + " " + r.getString(2) + " "
                            + r.getBigDecimal(3).toPlainString());
                }
            }
            try (PreparedStatement q = c.prepareStatement(
                    "SELECT id, amount FROM orders WHERE cust = ? ORDER BY amount DESC LIMIT 3")) {
                q.setString(1, "bob");
                List<String> top = new ArrayList<>();
                try (ResultSet r = q.executeQuery()) {
                    while (r.next()) {
                        top.add(r.getInt(1) + " " + r.getBigDecimal(2).toPlainString());
                    }
                }
                System.out.println("top bob: " + String.join(", ", top));
            }
            c.commit();
            try (Statement s = c.createStatement()) {
                s.executeUpdate("UPDATE orders SET amount = amount + 100 WHERE cust = 'dee'");
                s.executeUpdate("INSERT INTO orders VALUES (21, 'r021', 'eve', 1.00)");
            }
            c.commit();
            String dee;
            try (Statement s = c2.createStatement();
                    ResultSet r = s.executeQuery("SELECT SUM(amount) FROM orders WHERE cust = 'dee'")) {
                r.next();
                dee = r.getBigDecimal(1).toPlainString();
            }
            System.out.println("after commit (other connection): dee sum " + dee + ", eve rows "
                    + count(c2, "SELECT COUNT(*) FROM orders WHERE cust = 'eve'"));
            c2.commit();
            try (Statement s = c.createStatement()) {
                s.executeUpdate("DELETE FROM orders WHERE cust = 'ann'");
                s.executeUpdate("INSERT INTO orders VALUES (22, 'r022', 'zed', 2.00)");
            }
            System.out.println("in transaction: count " + count(c, "SELECT COUNT(*) FROM orders"));
            c.rollback();
            long n1 = count(c, "SELECT COUNT(*) FROM orders");
            c.commit();
            long n2 = count(c2, "SELECT COUNT(*) FROM orders");
            c2.commit();
            System.out.println("after rollback: count " + n1 + ", other connection count " + n2);
            try (Statement s = c.createStatement()) {
                s.executeUpdate("INSERT INTO orders VALUES (23, 'r001', 'x', 0)");
                c.commit();
                System.out.println("duplicate: no error");
            } catch (SQLException e) {
                System.out.println("duplicate: " + e.getErrorCode());
                c.rollback();
            }
        }
    }
}
