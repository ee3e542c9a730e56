#include <lapacke.h>
int main(void) { double a = 4; return LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 76, 1, &a, 1); }
