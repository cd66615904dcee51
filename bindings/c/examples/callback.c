/* callback.c: a C function called for every change under a key prefix, from a
 * Chiral thread. After chiral_unsubscribe returns no call is running, so the
 * user data can be freed right away. */
#include <pthread.h>
#include <string.h>

#include "check.h"

typedef struct {
  pthread_mutex_t lock;
  pthread_cond_t changed;
  int seen;
  char log[1024];
} changes;

static void on_change(void *user_data, const chiral_change *change) {
  changes *state = user_data;
  char line[160];
  switch (change->kind) {
  case CHIRAL_CHANGE_PUT:
    snprintf(line, sizeof line, "put %.*s = %.*s\n", (int)change->key_len,
             (const char *)change->key, (int)change->value_len, (const char *)change->value);
    break;
  case CHIRAL_CHANGE_DELETE:
    snprintf(line, sizeof line, "delete %.*s\n", (int)change->key_len, (const char *)change->key);
    break;
  case CHIRAL_CHANGE_FLUSH:
    snprintf(line, sizeof line, "flush\n");
    break;
  default:
    snprintf(line, sizeof line, "lagged\n");
    break;
  }
  pthread_mutex_lock(&state->lock);
  strncat(state->log, line, sizeof state->log - strlen(state->log) - 1);
  state->seen++;
  pthread_cond_signal(&state->changed);
  pthread_mutex_unlock(&state->lock);
}

int main(void) {
  chiral_db *db = NULL;
  OK(chiral_db_open_in_memory(NULL, &db));

  changes *state = calloc(1, sizeof *state);
  pthread_mutex_init(&state->lock, NULL);
  pthread_cond_init(&state->changed, NULL);
  chiral_subscription *subscription = NULL;
  OK(chiral_subscribe(db, S("price:"), on_change, state, &subscription));

  OK(chiral_set(db, S("price:apple"), S("3"), 0, CHIRAL_ACK_VISIBLE));
  OK(chiral_set(db, S("stock:apple"), S("10"), 0, CHIRAL_ACK_VISIBLE)); /* not watched */
  OK(chiral_incr(db, S("price:pear"), 5, NULL));
  OK(chiral_delete(db, S("price:apple"), CHIRAL_ACK_VISIBLE));

  /* Calls come in commit order, on another thread: wait for the three. */
  pthread_mutex_lock(&state->lock);
  while (state->seen < 3) {
    pthread_cond_wait(&state->changed, &state->lock);
  }
  pthread_mutex_unlock(&state->lock);
  OK(chiral_subscription_status(subscription));

  chiral_unsubscribe(subscription);
  printf("%s", state->log);
  pthread_cond_destroy(&state->changed);
  pthread_mutex_destroy(&state->lock);
  free(state);

  chiral_db_free(db);
  printf("ok\n");
  return 0;
}
