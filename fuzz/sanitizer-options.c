/* Linked into every fuzz target: undefined behaviour ends the run as a
 * crash does, except the cases listed in fuzz/ubsan.supp, which are known
 * and reported and would otherwise stop every run at the same place. */
#ifndef UBSAN_SUPP
#define UBSAN_SUPP "fuzz/ubsan.supp"
#endif

const char *__ubsan_default_options(void);

const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1:suppressions=" UBSAN_SUPP;
}
