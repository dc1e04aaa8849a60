/*
 * sql_accounts.h — the sqlnode's accounts once it runs with a cluster: the configured accounts
 * (root with --root-password, --users) become the cluster's boot accounts, and logins look
 * accounts up in the catalog's account table instead of the configuration
 * (docs/sql-layer.md "Users and privileges").
 */
#ifndef SQL_ACCOUNTS_H
#define SQL_ACCOUNTS_H

#include "sql_auth.h"
#include "sql_catalog.h"

/* Creates the boot accounts on a fresh cluster (root@'%' with every privilege and GRANT OPTION,
 * each --users account @'%' with every privilege but GRANT OPTION), loads the account table and
 * points auth's lookup at it. cat must outlive auth's use. */
int sql_accounts_open(sql_catalog *cat, sql_auth *auth, cm_err *err);

#endif
