#include <yaml.h>
int main(void) { yaml_parser_t p; return !yaml_parser_initialize(&p); }
