/* Lua only needs the sig_atomic_t type from <signal.h> on WASI; lua-src asks
 * to link libwasi-emulated-signal, which is therefore an empty archive. */
typedef int moonbox_empty_translation_unit;
