#include "ebm.h"
#include <stdio.h>
int main(void) { printf("ebm %s\n", ebm_version()); return 0; }
