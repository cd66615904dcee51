/* threads.c: four reader threads and a writer, sharing one database handle.
 * The writer moves units between two keys in atomic batches; each reader checks,
 * through read views, that every commit it sees keeps the total unchanged. */
#include <pthread.h>
#include <string.h>

#include "check.h"

enum { READERS = 4, READS_PER_READER = 2000, TRANSFERS = 1000, TOTAL = 1000 };

static chiral_db *db;

static long long parse(const uint8_t *data, size_t len) {
  char text[32];
  if (len >= sizeof text) {
    return -1;
  }
  memcpy(text, data, len);
  text[len] = '\0';
  return atoll(text);
}

static void *reader_thread(void *arg) {
  long *torn = arg;
  chiral_reader *reader = NULL; /* each thread makes its own reader */
  OK(chiral_reader_new(db, &reader));
  for (int i = 0; i < READS_PER_READER; i++) {
    chiral_view *view = NULL;
    const uint8_t *a, *b;
    size_t a_len, b_len;
    OK(chiral_view_open(reader, &view));
    OK(chiral_view_get(view, S("a"), &a, &a_len));
    OK(chiral_view_get(view, S("b"), &b, &b_len));
    if (parse(a, a_len) + parse(b, b_len) != TOTAL) {
      (*torn)++;
    }
    chiral_view_free(view);
  }
  chiral_reader_free(reader);
  return NULL;
}

static void *writer_thread(void *arg) {
  (void)arg;
  chiral_batch *batch = NULL;
  OK(chiral_batch_new(&batch));
  for (int i = 0; i < TRANSFERS; i++) {
    int64_t amount = (i % 7) + 1;
    OK(chiral_batch_incr(batch, S("a"), -amount));
    OK(chiral_batch_incr(batch, S("b"), amount));
    OK(chiral_batch_commit(db, batch, CHIRAL_ACK_VISIBLE, NULL));
  }
  chiral_batch_free(batch);
  return NULL;
}

int main(void) {
  OK(chiral_db_open_in_memory(NULL, &db));
  OK(chiral_set(db, S("a"), S("1000"), 0, CHIRAL_ACK_VISIBLE));
  OK(chiral_set(db, S("b"), S("0"), 0, CHIRAL_ACK_VISIBLE));

  pthread_t readers[READERS], writer;
  long torn[READERS] = {0};
  for (int i = 0; i < READERS; i++) {
    pthread_create(&readers[i], NULL, reader_thread, &torn[i]);
  }
  pthread_create(&writer, NULL, writer_thread, NULL);
  pthread_join(writer, NULL);
  long torn_total = 0;
  for (int i = 0; i < READERS; i++) {
    pthread_join(readers[i], NULL);
    torn_total += torn[i];
  }

  chiral_reader *reader = NULL;
  OK(chiral_reader_new(db, &reader));
  char a[32], b[32];
  size_t a_len, b_len;
  OK(chiral_get(reader, S("a"), (uint8_t *)a, sizeof a, &a_len));
  OK(chiral_get(reader, S("b"), (uint8_t *)b, sizeof b, &b_len));
  printf("%d readers made %d reads each; reads that saw half a batch: %ld\n", READERS,
         READS_PER_READER, torn_total);
  printf("after %d transfers: a = %.*s, b = %.*s\n", TRANSFERS, (int)a_len, a, (int)b_len, b);
  chiral_reader_free(reader);
  chiral_db_free(db);
  printf("ok\n");
  return 0;
}
