#include <stdlib.h>
#include <string.h>

#include "cart.h"

#define CART_INITIAL_CAPACITY 8
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* One line of a cart: an item and how many of it. */
struct line {
    char id[CART_ID_LEN];
    long cents;
    int count;
};

typedef struct {
    struct line *lines;
    size_t len;
    size_t capacity;
    long discount_cents;
} cart_t;

/* Creates an empty cart; the caller frees it with cart_free. */
cart_t *cart_new(void) {
    cart_t *cart = calloc(1, sizeof *cart);
    if (cart == NULL) {
        return NULL;
    }
    cart->lines = calloc(CART_INITIAL_CAPACITY, sizeof *cart->lines);
    if (cart->lines == NULL) {
        free(cart);
        return NULL;
    }
    cart->capacity = CART_INITIAL_CAPACITY;
    return cart;
}

void cart_free(cart_t *cart) {
    if (cart != NULL) {
        free(cart->lines);
        free(cart);
    }
}

static struct line *find_line(cart_t *cart, const char *id) {
    for (size_t i = 0; i < cart->len; i++) {
        if (strncmp(cart->lines[i].id, id, CART_ID_LEN) == 0) {
            return &cart->lines[i];
        }
    }
    return NULL;
}

/* Adds count of an item; adding an item twice adds up the counts. Returns 0, or -1 when
 * out of memory. */
int cart_add(cart_t *cart, const char *id, long cents, int count) {
    struct line *line = find_line(cart, id);
    if (line != NULL) {
        line->count += count;
        return 0;
    }
    if (cart->len == cart->capacity) {
        size_t capacity = cart->capacity * 2;
        struct line *lines = realloc(cart->lines, capacity * sizeof *lines);
        if (lines == NULL) {
            return -1;
        }
        cart->lines = lines;
        cart->capacity = capacity;
    }
    line = &cart->lines[cart->len++];
    strncpy(line->id, id, CART_ID_LEN - 1);
    line->cents = cents;
    line->count = count;
    return 0;
}

/* The total in cents after the discount, never below zero. */
long cart_total(const cart_t *cart) {
    long cents = 0;
    for (size_t i = 0; i < cart->len; i++) {
        cents += cart->lines[i].cents * cart->lines[i].count;
    }
    return MAX(0, cents - cart->discount_cents);
}
