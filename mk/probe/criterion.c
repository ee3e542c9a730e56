#include <criterion/criterion.h>
Test(probe, ok) { cr_assert(1); }
