/* documents.c: the Boutique use case from C: a schema, a collection, a document
 * written in parts and read one field at a time; on disk, it survives a reopen.
 * Usage: documents [data-dir]   (no argument: a database in memory) */
#include <string.h>

#include "check.h"

/* A field whose value is a C string. */
#define F(name, value) {(name), {(const uint8_t *)(value), sizeof(value) - 1}}

static chiral_db *open_db(const char *dir) {
  chiral_db *db = NULL;
  if (dir) {
    OK(chiral_db_open(dir, NULL, &db));
  } else {
    OK(chiral_db_open_in_memory(NULL, &db));
  }
  return db;
}

static void print_field(chiral_reader *reader, const char *field) {
  char buf[64];
  size_t len = 0;
  chiral_status status =
      chiral_doc_get(reader, "users", S("user_id_here"), field, (uint8_t *)buf, sizeof buf, &len);
  if (status == CHIRAL_NOT_FOUND) {
    printf("%s = (nil)\n", field);
  } else {
    OK(status);
    printf("%s = %.*s\n", field, (int)len, buf);
  }
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : NULL;
  chiral_db *db = open_db(dir);
  chiral_reader *reader = NULL;
  OK(chiral_reader_new(db, &reader));

  chiral_field schema[] = {
      F("id", "string64"),
      F("last_login_time", "uint64"),
      F("last_visited_page", "string64"),
  };
  OK(chiral_schema_create(db, "user", schema, 3));
  OK(chiral_collection_create(db, "users", "user", "id"));
  printf("schema user, collection users\n");

  /* Written in two parts: the second keeps what the first wrote. */
  bool created = false;
  chiral_field login[] = {F("last_login_time", "1312309023")};
  OK(chiral_doc_set(db, "users", S("user_id_here"), login, 1, CHIRAL_ACK_DURABLE, &created));
  printf("created: %s\n", created ? "yes" : "no");
  chiral_field page[] = {F("last_visited_page", "/dashboard")};
  OK(chiral_doc_set(db, "users", S("user_id_here"), page, 1, CHIRAL_ACK_DURABLE, &created));
  printf("created again: %s\n", created ? "yes" : "no");
  print_field(reader, "id");
  print_field(reader, "last_login_time");
  print_field(reader, "last_visited_page");

  /* A rule broken is CHIRAL_ERR_SCHEMA with one clear line, and changes nothing. */
  char message[256];
  chiral_field wrong[] = {F("last_login_time", "abc")};
  EXPECT(chiral_doc_set(db, "users", S("user_id_here"), wrong, 1, CHIRAL_ACK_VISIBLE, NULL),
         CHIRAL_ERR_SCHEMA);
  chiral_last_error(message, sizeof message);
  printf("error: %s\n", message);
  chiral_field unknown[] = {F("nickname", "bob")};
  EXPECT(chiral_doc_set(db, "users", S("user_id_here"), unknown, 1, CHIRAL_ACK_VISIBLE, NULL),
         CHIRAL_ERR_SCHEMA);
  chiral_last_error(message, sizeof message);
  printf("error: %s\n", message);
  EXPECT(chiral_collection_create(db, "people", "nosuchschema", "id"), CHIRAL_ERR_SCHEMA);
  chiral_last_error(message, sizeof message);
  printf("error: %s\n", message);
  print_field(reader, "last_login_time");

  if (dir) {
    /* Reopened: the catalog and the document came back from the log. */
    chiral_reader_free(reader);
    chiral_db_free(db);
    db = open_db(dir);
    OK(chiral_reader_new(db, &reader));
  }
  print_field(reader, "last_visited_page");

  OK(chiral_doc_delete(db, "users", S("user_id_here"), CHIRAL_ACK_VISIBLE));
  EXPECT(chiral_doc_delete(db, "users", S("user_id_here"), CHIRAL_ACK_VISIBLE), CHIRAL_NOT_FOUND);
  printf("deleted\n");
  print_field(reader, "last_login_time");
  chiral_reader_free(reader);
  chiral_db_free(db);
  return 0;
}
