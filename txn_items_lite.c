/*
 * txn_items_lite.c: a push's items as an SQLite table-valued function,
 * push_items(L), so that txn_insert writes a million txn_items rows by
 * one INSERT ... SELECT: an INSERT stepped once a row, each bound anew,
 * took 2.5 times as long (bench/README). L is the struct push_list
 * itself, bound by sqlite3_bind_pointer under PUSH_ITEMS_POINTER: SQL
 * text cannot make one, so no statement but txn_insert's reads anything
 * through it.
 * PostgreSQL takes the rows by COPY instead (sql_bulk.c).
 */
#include <sqlite3.h>
#include <string.h>

#include "txn.h"

enum { COL_PATH, COL_SHA256, COL_SIZE, COL_MTIME, COL_MODE, COL_BASE, COL_BASE_MODE, COL_TARGET, COL_LIST };

struct items_cursor {
	sqlite3_vtab_cursor base;	/* first: SQLite's part */
	const struct push_list *l;
	size_t i;
};

static int items_connect(sqlite3 *lite, void *aux, int argc, const char *const *argv, sqlite3_vtab **vt,
			 char **err)
{
	int rc = sqlite3_declare_vtab(lite, "CREATE TABLE x(path, sha256, size, mtime, mode, base, base_mode,"
					    " target, list HIDDEN)");

	if (rc != SQLITE_OK)
		return rc;
	*vt = sqlite3_malloc(sizeof(**vt));
	if (!*vt)
		return SQLITE_NOMEM;
	memset(*vt, 0, sizeof(**vt));
	return SQLITE_OK;
}

static int items_disconnect(sqlite3_vtab *vt)
{
	sqlite3_free(vt);
	return SQLITE_OK;
}

/* The list must be given, as list = ?: a plan without it has no rows to read. */
static int items_best_index(sqlite3_vtab *vt, sqlite3_index_info *info)
{
	for (int i = 0; i < info->nConstraint; i++) {
		const struct sqlite3_index_constraint *c = &info->aConstraint[i];

		if (c->iColumn == COL_LIST && c->op == SQLITE_INDEX_CONSTRAINT_EQ && c->usable) {
			info->aConstraintUsage[i].argvIndex = 1;
			info->aConstraintUsage[i].omit = 1;
			info->estimatedCost = 1;
			return SQLITE_OK;
		}
	}
	return SQLITE_CONSTRAINT;
}

static int items_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out)
{
	struct items_cursor *c = sqlite3_malloc(sizeof(*c));

	if (!c)
		return SQLITE_NOMEM;
	memset(c, 0, sizeof(*c));
	*out = &c->base;
	return SQLITE_OK;
}

static int items_close(sqlite3_vtab_cursor *cur)
{
	sqlite3_free(cur);
	return SQLITE_OK;
}

static int items_filter(sqlite3_vtab_cursor *cur, int idx, const char *idx_str, int argc, sqlite3_value **argv)
{
	struct items_cursor *c = (struct items_cursor *)cur;

	c->l = argc == 1 ? sqlite3_value_pointer(argv[0], PUSH_ITEMS_POINTER) : NULL;
	c->i = 0;
	return SQLITE_OK;
}

static int items_next(sqlite3_vtab_cursor *cur)
{
	((struct items_cursor *)cur)->i++;
	return SQLITE_OK;
}

static int items_eof(sqlite3_vtab_cursor *cur)
{
	const struct items_cursor *c = (const struct items_cursor *)cur;

	return !c->l || c->i >= c->l->n;
}

static void text_or_null(sqlite3_context *ctx, const char *s)
{
	if (s)
		sqlite3_result_text(ctx, s, -1, SQLITE_STATIC);
	else
		sqlite3_result_null(ctx);
}

static int items_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col)
{
	const struct items_cursor *c = (const struct items_cursor *)cur;
	const struct push_item *it = &c->l->v[c->i];

	switch (col) {
	case COL_PATH:
		text_or_null(ctx, it->path);
		break;
	case COL_SHA256:
		text_or_null(ctx, txn_item_sha256(it));
		break;
	case COL_SIZE:
		sqlite3_result_int64(ctx, it->size);
		break;
	case COL_MTIME:
		sqlite3_result_int64(ctx, it->mtime);
		break;
	case COL_MODE:
		sqlite3_result_int64(ctx, (int)it->mode);
		break;
	case COL_BASE:
		text_or_null(ctx, txn_item_base(it));
		break;
	case COL_BASE_MODE:
		sqlite3_result_int64(ctx, (int)it->base_mode);
		break;
	case COL_TARGET:
		text_or_null(ctx, it->target);
		break;
	default:
		sqlite3_result_null(ctx);
	}
	return SQLITE_OK;
}

static int items_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid)
{
	*rowid = (sqlite3_int64)((const struct items_cursor *)cur)->i;
	return SQLITE_OK;
}

/* Eponymous only: no CREATE VIRTUAL TABLE makes one, so xCreate is NULL. */
static const sqlite3_module items_module = {
	.xConnect = items_connect,
	.xBestIndex = items_best_index,
	.xDisconnect = items_disconnect,
	.xOpen = items_open,
	.xClose = items_close,
	.xFilter = items_filter,
	.xNext = items_next,
	.xEof = items_eof,
	.xColumn = items_column,
	.xRowid = items_rowid,
};

int txn_items_lite(struct sqlite3 *lite)
{
	return sqlite3_create_module(lite, "push_items", &items_module, NULL) == SQLITE_OK ? 0 : -1;
}
