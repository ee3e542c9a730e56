#include <jansson.h>
int main(void) { json_t *o = json_object(); json_decref(o); return 0; }
