#ifndef EBM_REEXEC_H
#define EBM_REEXEC_H
/* See reexec.c.  Returns only when no re-execution was needed or possible. */
void cli_reexec_for_blas(char **argv);
#endif
