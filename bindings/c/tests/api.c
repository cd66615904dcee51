/* api.c: the C ABI's contract, from C: version macros, and every error path
 * (NULL handles and pointers, out-of-range arguments, small buffers, documents, a
 * closed database, invalid UTF-8, read-only and size limits).
 * Usage: api <scratch-dir> */
#include <string.h>

#include "../examples/check.h"

static int failures = 0;

#define CHECK(condition)                                                                 \
  do {                                                                                   \
    if (!(condition)) {                                                                  \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition);      \
      failures++;                                                                        \
    }                                                                                    \
  } while (0)

static int last_error_contains(const char *text) {
  char message[512];
  chiral_last_error(message, sizeof message);
  return strstr(message, text) != NULL;
}

static void versions(void) {
  CHECK(CHIRAL_VERSION_NUMBER ==
        CHIRAL_VERSION_MAJOR * 1000000 + CHIRAL_VERSION_MINOR * 1000 + CHIRAL_VERSION_PATCH);
  CHECK(chiral_version_number() == CHIRAL_VERSION_NUMBER);
  char expected[32];
  snprintf(expected, sizeof expected, "%d.%d.%d", CHIRAL_VERSION_MAJOR, CHIRAL_VERSION_MINOR,
           CHIRAL_VERSION_PATCH);
  CHECK(strcmp(chiral_version_string(), expected) == 0);
  printf("versions: header and library agree\n");
}

static void null_arguments(chiral_db *db, chiral_reader *reader) {
  char buf[16];
  size_t len = 0;
  chiral_reader *no_reader = NULL;
  EXPECT(chiral_get(NULL, S("k"), (uint8_t *)buf, sizeof buf, &len), CHIRAL_ERR_ARGUMENT);
  CHECK(last_error_contains("reader is NULL"));
  EXPECT(chiral_set(NULL, S("k"), S("v"), 0, CHIRAL_ACK_VISIBLE), CHIRAL_ERR_ARGUMENT);
  EXPECT(chiral_reader_new(NULL, &no_reader), CHIRAL_ERR_ARGUMENT);
  CHECK(no_reader == NULL);
  EXPECT(chiral_reader_new(db, NULL), CHIRAL_ERR_ARGUMENT);
  EXPECT(chiral_get(reader, S("k"), (uint8_t *)buf, sizeof buf, NULL), CHIRAL_ERR_ARGUMENT);
  EXPECT(chiral_set(db, NULL, 3, S("v"), 0, CHIRAL_ACK_VISIBLE), CHIRAL_ERR_ARGUMENT);
  CHECK(last_error_contains("key is NULL with length 3"));
  EXPECT(chiral_view_get(NULL, S("k"), NULL, NULL), CHIRAL_ERR_ARGUMENT);
  EXPECT(chiral_iter_next(NULL, NULL, NULL), CHIRAL_ERR_ARGUMENT);
  EXPECT(chiral_batch_commit(db, NULL, CHIRAL_ACK_VISIBLE, NULL), CHIRAL_ERR_ARGUMENT);
  EXPECT(chiral_subscribe(db, S(""), NULL, NULL, NULL), CHIRAL_ERR_ARGUMENT);
  EXPECT(chiral_db_open(NULL, NULL, NULL), CHIRAL_ERR_ARGUMENT);
  /* An empty key may be NULL with length 0. */
  OK(chiral_set(db, NULL, 0, S("empty key"), 0, CHIRAL_ACK_VISIBLE));
  OK(chiral_get(reader, NULL, 0, (uint8_t *)buf, sizeof buf, &len));
  CHECK(len == 9);
  /* Every free accepts NULL. */
  chiral_db_free(NULL);
  chiral_reader_free(NULL);
  chiral_view_free(NULL);
  chiral_batch_free(NULL);
  chiral_iter_free(NULL);
  chiral_options_free(NULL);
  chiral_bytes_free(NULL);
  chiral_unsubscribe(NULL);
  printf("NULL handles and pointers: CHIRAL_ERR_ARGUMENT, frees accept NULL\n");
}

static void out_of_range(chiral_db *db, chiral_reader *reader) {
  chiral_options *options = NULL;
  OK(chiral_options_new(&options));
  EXPECT(chiral_set(db, S("k"), S("v"), 0, 7), CHIRAL_ERR_ARGUMENT);
  CHECK(last_error_contains("ack mode 7"));
  EXPECT(chiral_list_push(db, S("l"), 9, S("v"), NULL), CHIRAL_ERR_ARGUMENT);
  EXPECT(chiral_options_set_fsync(options, 5, 0), CHIRAL_ERR_ARGUMENT);
  EXPECT(chiral_options_set_fsync(options, CHIRAL_FSYNC_INTERVAL, 0), CHIRAL_ERR_ARGUMENT);
  EXPECT(chiral_options_set_io_backend(options, 3), CHIRAL_ERR_ARGUMENT);
  chiral_options_free(options);
  CHECK(strcmp(chiral_status_name(12345), "CHIRAL_UNKNOWN_STATUS") == 0);
  CHECK(strcmp(chiral_status_name(CHIRAL_ERR_WRONG_TYPE), "CHIRAL_ERR_WRONG_TYPE") == 0);

  /* A hash iterator read as single items, and the other way round. */
  OK(chiral_hash_set(db, S("h"), S("f"), S("v")));
  chiral_iter *iter = NULL;
  const uint8_t *item, *value;
  size_t item_len, value_len;
  OK(chiral_hash_entries(reader, S("h"), &iter));
  EXPECT(chiral_iter_next(iter, &item, &item_len), CHIRAL_ERR_ARGUMENT);
  OK(chiral_iter_next_pair(iter, &item, &item_len, &value, &value_len));
  EXPECT(chiral_iter_next_pair(iter, &item, &item_len, &value, &value_len), CHIRAL_DONE);
  chiral_iter_free(iter);
  printf("out-of-range arguments: CHIRAL_ERR_ARGUMENT\n");
}

static void buffers_and_out_parameters(chiral_db *db, chiral_reader *reader) {
  OK(chiral_set(db, S("long"), S("0123456789"), 0, CHIRAL_ACK_VISIBLE));
  char buf[4];
  size_t len = 0;
  EXPECT(chiral_get(reader, S("long"), (uint8_t *)buf, sizeof buf, &len),
         CHIRAL_ERR_BUFFER_TOO_SMALL);
  CHECK(len == 10);
  /* Asking for the size with no buffer at all. */
  EXPECT(chiral_get(reader, S("long"), NULL, 0, &len), CHIRAL_ERR_BUFFER_TOO_SMALL);
  CHECK(len == 10);
  /* An empty value needs no buffer. */
  OK(chiral_set(db, S("empty"), NULL, 0, 0, CHIRAL_ACK_VISIBLE));
  OK(chiral_get(reader, S("empty"), NULL, 0, &len));
  CHECK(len == 0);
  /* Out-parameters are untouched by a call that did not succeed. */
  uint64_t version = 777;
  EXPECT(chiral_key_version(reader, S("missing"), &version), CHIRAL_NOT_FOUND);
  CHECK(version == 777);
  int64_t number = 777;
  EXPECT(chiral_incr(db, S("long"), 1, &number), CHIRAL_ERR_NOT_A_NUMBER);
  CHECK(last_error_contains("value is not an integer"));
  CHECK(!last_error_contains("operation 0"));
  CHECK(number == 777);
  EXPECT(chiral_set(db, S("max"), S("9223372036854775807"), 0, CHIRAL_ACK_VISIBLE), CHIRAL_OK);
  number = 777;
  EXPECT(chiral_incr(db, S("max"), 1, &number), CHIRAL_ERR_OVERFLOW);
  CHECK(number == 777);
  chiral_bytes popped = {NULL, 0};
  EXPECT(chiral_list_pop(db, S("no list"), CHIRAL_END_HEAD, &popped), CHIRAL_NOT_FOUND);
  CHECK(popped.data == NULL);
  chiral_bytes_free(&popped);
  printf("small buffers learn the size; failures leave out-parameters alone\n");
}

static void documents(chiral_db *db, chiral_reader *reader) {
  chiral_field schema[] = {{"id", {(const uint8_t *)"string8", 7}},
                           {"n", {(const uint8_t *)"uint64", 6}}};
  /* NULLs and names that are not UTF-8 or not types. */
  EXPECT(chiral_schema_create(NULL, "s", schema, 2), CHIRAL_ERR_ARGUMENT);
  EXPECT(chiral_schema_create(db, NULL, schema, 2), CHIRAL_ERR_ARGUMENT);
  EXPECT(chiral_schema_create(db, "s", NULL, 2), CHIRAL_ERR_ARGUMENT);
  EXPECT(chiral_schema_create(db, "\xff", schema, 2), CHIRAL_ERR_INVALID_UTF8);
  chiral_field bad_type[] = {{"id", {(const uint8_t *)"string0", 7}}};
  EXPECT(chiral_schema_create(db, "s", bad_type, 1), CHIRAL_ERR_ARGUMENT);
  CHECK(last_error_contains("'string0' is not a type"));
  chiral_field no_name[] = {{NULL, {(const uint8_t *)"bool", 4}}};
  EXPECT(chiral_schema_create(db, "s", no_name, 1), CHIRAL_ERR_ARGUMENT);
  /* Rules: an empty schema, a taken name, an unknown key field. */
  EXPECT(chiral_schema_create(db, "s", schema, 0), CHIRAL_ERR_SCHEMA);
  OK(chiral_schema_create(db, "s", schema, 2));
  EXPECT(chiral_schema_create(db, "s", schema, 2), CHIRAL_ERR_SCHEMA);
  CHECK(last_error_contains("schema s already exists"));
  EXPECT(chiral_collection_create(db, "c", "s", "nosuch"), CHIRAL_ERR_SCHEMA);
  EXPECT(chiral_collection_create(db, "c", "s", NULL), CHIRAL_ERR_ARGUMENT);
  OK(chiral_collection_create(db, "c", "s", "id"));
  /* Writes: a failed one leaves out_created alone and changes nothing. */
  bool created = false;
  chiral_field n[] = {{"n", {(const uint8_t *)"5", 1}}};
  OK(chiral_doc_set(db, "c", S("dd"), n, 1, CHIRAL_ACK_VISIBLE, &created));
  CHECK(created);
  chiral_field negative[] = {{"n", {(const uint8_t *)"-5", 2}}};
  created = true;
  EXPECT(chiral_doc_set(db, "c", S("dd"), negative, 1, CHIRAL_ACK_VISIBLE, &created),
         CHIRAL_ERR_SCHEMA);
  CHECK(created);
  CHECK(last_error_contains("wrong type for field n: expected uint64"));
  EXPECT(chiral_doc_set(db, "c", S("dd"), n, 1, 7, NULL), CHIRAL_ERR_ARGUMENT);
  EXPECT(chiral_doc_set(db, "c", S("dd"), NULL, 1, CHIRAL_ACK_VISIBLE, NULL), CHIRAL_ERR_ARGUMENT);
  EXPECT(chiral_doc_set(db, "c", S("123456789"), n, 1, CHIRAL_ACK_VISIBLE, NULL),
         CHIRAL_ERR_SCHEMA);
  EXPECT(chiral_doc_set(db, "nosuch", S("dd"), n, 1, CHIRAL_ACK_VISIBLE, NULL), CHIRAL_ERR_SCHEMA);
  /* Reads: buffers as chiral_get's; unknown names are errors, absence is NOT_FOUND. */
  char buf[1];
  size_t len = 0;
  OK(chiral_doc_get(reader, "c", S("dd"), "n", (uint8_t *)buf, sizeof buf, &len));
  CHECK(len == 1 && buf[0] == '5');
  EXPECT(chiral_doc_get(reader, "c", S("dd"), "id", (uint8_t *)buf, sizeof buf, &len),
         CHIRAL_ERR_BUFFER_TOO_SMALL);
  CHECK(len == 2);
  EXPECT(chiral_doc_get(reader, "c", S("dd"), "n", (uint8_t *)buf, sizeof buf, NULL),
         CHIRAL_ERR_ARGUMENT);
  EXPECT(chiral_doc_get(reader, "c", S("dd"), "nickname", (uint8_t *)buf, sizeof buf, &len),
         CHIRAL_ERR_SCHEMA);
  EXPECT(chiral_doc_get(reader, "nosuch", S("dd"), "n", (uint8_t *)buf, sizeof buf, &len),
         CHIRAL_ERR_SCHEMA);
  EXPECT(chiral_doc_get(reader, "c", S("missing"), "n", (uint8_t *)buf, sizeof buf, &len),
         CHIRAL_NOT_FOUND);
  /* A document is not a string. */
  EXPECT(chiral_get(reader, S("c:dd"), (uint8_t *)buf, sizeof buf, &len), CHIRAL_ERR_WRONG_TYPE);
  OK(chiral_doc_delete(db, "c", S("dd"), CHIRAL_ACK_VISIBLE));
  EXPECT(chiral_doc_delete(db, "c", S("dd"), CHIRAL_ACK_VISIBLE), CHIRAL_NOT_FOUND);
  EXPECT(chiral_doc_delete(db, "c", S("dd"), 9), CHIRAL_ERR_ARGUMENT);
  printf("documents: NULLs, type names, rules and buffers give their status\n");
}

static void limits(const char *dir) {
  chiral_options *options = NULL;
  chiral_db *db = NULL;
  chiral_reader *reader = NULL;
  OK(chiral_options_new(&options));
  OK(chiral_options_set_limits(options, 8, 16));
  OK(chiral_db_open(dir, options, &db));
  OK(chiral_reader_new(db, &reader));
  OK(chiral_set(db, S("12345678"), S("0123456789abcdef"), 0, CHIRAL_ACK_VISIBLE));
  EXPECT(chiral_set(db, S("123456789"), S("v"), 0, CHIRAL_ACK_VISIBLE), CHIRAL_ERR_TOO_LARGE);
  EXPECT(chiral_set(db, S("k"), S("0123456789abcdefg"), 0, CHIRAL_ACK_VISIBLE),
         CHIRAL_ERR_TOO_LARGE);
  char buf[32];
  size_t len;
  EXPECT(chiral_get(reader, S("k"), (uint8_t *)buf, sizeof buf, &len), CHIRAL_NOT_FOUND);
  printf("keys and values past their limits: CHIRAL_ERR_TOO_LARGE, nothing written\n");

  /* A closed database refuses writes and still serves reads. */
  OK(chiral_db_close(db));
  EXPECT(chiral_set(db, S("k"), S("v"), 0, CHIRAL_ACK_VISIBLE), CHIRAL_ERR_CLOSED);
  EXPECT(chiral_db_snapshot(db, NULL), CHIRAL_ERR_CLOSED);
  OK(chiral_get(reader, S("12345678"), (uint8_t *)buf, sizeof buf, &len));
  chiral_db_free(db);
  /* The reader outlives its database handle. */
  OK(chiral_get(reader, S("12345678"), (uint8_t *)buf, sizeof buf, &len));
  chiral_reader_free(reader);
  printf("a closed database: CHIRAL_ERR_CLOSED for writes, reads go on\n");

  /* Read-only: reads, no writes. */
  OK(chiral_options_set_read_only(options, true));
  OK(chiral_db_open(dir, options, &db));
  OK(chiral_reader_new(db, &reader));
  OK(chiral_get(reader, S("12345678"), (uint8_t *)buf, sizeof buf, &len));
  EXPECT(chiral_set(db, S("k"), S("v"), 0, CHIRAL_ACK_VISIBLE), CHIRAL_ERR_READ_ONLY);
  EXPECT(chiral_db_snapshot(db, NULL), CHIRAL_ERR_READ_ONLY);
  chiral_reader_free(reader);
  chiral_db_free(db);
  chiral_options_free(options);
  printf("read-only: CHIRAL_ERR_READ_ONLY for writes\n");
}

static void text_and_files(void) {
  chiral_db *db = NULL;
  EXPECT(chiral_db_open("/tmp/\xff\xfe-not-utf8", NULL, &db), CHIRAL_ERR_INVALID_UTF8);
  CHECK(db == NULL);
  EXPECT(chiral_db_open("/proc/version/data", NULL, &db), CHIRAL_ERR_IO);
  CHECK(last_error_contains("/proc/version"));
  OK(chiral_db_open_in_memory(NULL, &db));
  EXPECT(chiral_db_snapshot(db, NULL), CHIRAL_ERR_UNSUPPORTED);
  chiral_db_free(db);
  printf("invalid UTF-8 paths, unusable directories, snapshots in memory: clear errors\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: api <scratch-dir>\n");
    return 2;
  }
  chiral_db *db = NULL;
  chiral_reader *reader = NULL;
  OK(chiral_db_open_in_memory(NULL, &db));
  OK(chiral_reader_new(db, &reader));
  versions();
  null_arguments(db, reader);
  out_of_range(db, reader);
  buffers_and_out_parameters(db, reader);
  documents(db, reader);
  chiral_reader_free(reader);
  chiral_db_free(db);
  limits(argv[1]);
  text_and_files();
  if (failures > 0) {
    fprintf(stderr, "%d checks failed\n", failures);
    return 1;
  }
  printf("ok\n");
  return 0;
}
