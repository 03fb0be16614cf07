/*
** MOONBOX: Lua 5.4's core and standard libraries as one translation unit,
** in the manner of Lua's own onelua.c. Internal functions become static,
** so the compiler can inline across what were separate files (table and
** string lookups into the VM loop, for instance). In wasm every call that
** is not inlined also pays a stack check and a fuel save and reload.
*/
/* as in ltablib.c: wasi-libc declares arc4random (table.sort's pivot
   randomisation) only with its default feature macros */
#if defined(__wasi__)
#include <stdlib.h>
#endif

#include "lprefix.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* MOONBOX: a 'memcpy' is one wasm instruction, one unit of fuel, whatever
   its size; the runtime does the copying. Large copies report their size to
   the host, which charges fuel for it (guest-lua/src/lib.rs, WIT 'meter').
   Lua uses no memset or memmove. */
#if defined(__wasi__)
#define MOONBOX_METERED_COPY	4096
void moonbox_copying(size_t bytes);
static inline void *moonbox_memcpy(void *dst, const void *src, size_t n) {
  if (n >= MOONBOX_METERED_COPY)
    moonbox_copying(n);
  return memcpy(dst, src, n);
}
#define memcpy(dst, src, n)	moonbox_memcpy(dst, src, n)
#endif

/* setup for luaconf.h */
#define LUA_CORE
#define LUA_LIB
#define ltable_c
#define lvm_c
#include "luaconf.h"

/* Lua's computed-goto dispatch (on by default with GCC-compatible
   compilers) cannot be expressed in wasm: clang turns the label addresses
   into numbers in a table in linear memory and every 'goto *' into one
   switch over them, so each instruction paid an extra dependent load
   before its branch. A plain switch is one 'br_table'. */
#if defined(__wasi__)
#define LUA_USE_JUMPTABLE	0
#endif

/* The standard libraries reach tables and the stack only through the C
   API ('lua_geti', 'lua_seti', 'luaL_checkinteger', ...). Inlined, the
   element-moving loops of 'table.insert' and 'table.remove' lose a call
   per element: the suite's 'tables' went from 2.46x to 1.32x native.
   Rust (mlua) still calls the out-of-line copies.
   (clang skips the functions it cannot inline, the variadic ones; GCC,
   which builds the host-side copy that precompiles the prelude, refuses.) */
#if defined(__wasi__)
#undef LUA_API
#define LUA_API	__attribute__((always_inline)) extern
#endif

/* Integers become text through 'snprintf("%lld")', which in wasi-libc
   runs musl's whole printf machinery for every 'tostring(n)' and every
   number concatenated into a string. The same digits, written directly. */
static int moonbox_integer2str (char *buff, size_t sz, LUA_INTEGER n) {
  char digits[24];
  int len = 0, i = 0;
  unsigned LUA_INTEGER u = (n < 0) ? 0u - (unsigned LUA_INTEGER)n
                                   : (unsigned LUA_INTEGER)n;
  do {
    digits[len++] = (char)('0' + (int)(u % 10));
    u /= 10;
  } while (u != 0);
  if ((size_t)len + (n < 0) >= sz)  /* does not fit: as snprintf would */
    return snprintf(buff, sz, LUA_INTEGER_FMT, (LUAI_UACINT)n);
  if (n < 0)
    buff[i++] = '-';
  while (len > 0)
    buff[i++] = digits[--len];
  buff[i] = '\0';
  return i;
}
#undef lua_integer2str
#define lua_integer2str(s,sz,n)	moonbox_integer2str((s), (sz), (n))
/* lstrlib.c uses it for a plain "%d" in 'string.format' too */
#define MOONBOX_DIRECT_INTEGER2STR

#if defined(__wasi__)
/* 'string.find' and friends test every pattern for special characters with
   'strpbrk' ('nospecials'), and every string read as a float is tested
   with it too ('l_str2d'); musl's builds a 256-bit set from the characters
   sought first. Patterns are short: a direct scan is cheaper. */
static inline char *moonbox_strpbrk (const char *s, const char *chars) {
  for (; *s != '\0'; s++) {
    const char *c = chars;
    while (*c != '\0' && *c != *s) c++;
    if (*c != '\0') return (char *)s;
  }
  return NULL;
}
#define strpbrk		moonbox_strpbrk

/* Decimal text to a double, as 'strtod' reads it. 'tonumber', arithmetic
   on numeric strings and the lexer's float literals all come here; musl's
   strtod reads every numeral through its general big-number routine.
   A decimal numeral of at most 19 significant digits whose significand is
   at most 2^53 and whose power of ten is at most 22 in size is a product
   or quotient of two exact doubles: one IEEE operation, rounded once, is
   the correctly rounded value that strtod returns (Clinger's fast path).
   Everything else (more digits, larger exponents, hexadecimal, 'inf' and
   'nan', leading spaces, an 'e' without digits) goes to strtod. */
static const double moonbox_powers_of_ten[23] = {
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
  1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

static double moonbox_str2number (const char *s, char **endptr) {
  const char *p = s;
  unsigned long long w = 0;  /* significant digits */
  int digits = 0, scale = 0, negative = 0, any = 0;
  double d;
  if (*p == '-' || *p == '+')
    negative = (*p++ == '-');
  for (; *p >= '0' && *p <= '9'; p++) {
    any = 1;
    if (w == 0 && *p == '0') continue;  /* leading zero */
    if (++digits > 19) return strtod(s, endptr);
    w = w * 10 + (unsigned)(*p - '0');
  }
  if (*p == '.') {
    for (p++; *p >= '0' && *p <= '9'; p++) {
      any = 1;
      scale--;
      if (w == 0 && *p == '0') continue;
      if (++digits > 19) return strtod(s, endptr);
      w = w * 10 + (unsigned)(*p - '0');
    }
  }
  if (!any || *p == 'x' || *p == 'X')
    return strtod(s, endptr);
  if (*p == 'e' || *p == 'E') {
    const char *q = p + 1;
    int exponent = 0, negexp = 0, expdigits = 0;
    if (*q == '-' || *q == '+')
      negexp = (*q++ == '-');
    for (; *q >= '0' && *q <= '9'; q++, expdigits = 1)
      if (exponent < 10000) exponent = exponent * 10 + (*q - '0');
    if (!expdigits) return strtod(s, endptr);
    scale += negexp ? -exponent : exponent;
    p = q;
  }
  if (w > (1ULL << 53) || scale < -22 || scale > 22)
    return strtod(s, endptr);
  d = (double)w;
  d = (scale < 0) ? d / moonbox_powers_of_ten[-scale]
                  : d * moonbox_powers_of_ten[scale];
  *endptr = (char *)p;
  return negative ? -d : d;
}
#undef lua_str2number
#define lua_str2number(s,p)	moonbox_str2number((s), (p))
#endif

/* do not export internal symbols */
#undef LUAI_FUNC
#undef LUAI_DDEC
#undef LUAI_DDEF
#define LUAI_FUNC	static
#define LUAI_DDEC(def)	/* empty */
#define LUAI_DDEF	static

/* core */
#include "lzio.c"
#include "lctype.c"
#include "lopcodes.c"
#include "lmem.c"
#include "lundump.c"
#include "ldump.c"
#include "lstate.c"
#include "lgc.c"
#include "llex.c"
#include "lcode.c"
#include "lparser.c"
#include "ldebug.c"
#include "lfunc.c"
#include "lobject.c"
#include "ltm.c"
#include "lstring.c"
#include "ltable.c"
#include "ldo.c"
#include "lvm.c"
#include "lapi.c"

/* wasi-libc's <ctype.h> (musl, "C" locale only) makes 'tolower',
   'isspace', 'isalnum' and others out-of-line calls; pattern matching and
   'string.lower'/'upper' make one per character. These are the same
   definitions, inlined. */
#if defined(__wasi__)
static inline int moonbox_isalpha (int c) { return ((unsigned)c | 32) - 'a' < 26; }
static inline int moonbox_isdigit (int c) { return (unsigned)c - '0' < 10; }
static inline int moonbox_islower (int c) { return (unsigned)c - 'a' < 26; }
static inline int moonbox_isupper (int c) { return (unsigned)c - 'A' < 26; }
static inline int moonbox_isgraph (int c) { return (unsigned)c - 0x21 < 0x5e; }
static inline int moonbox_isalnum (int c) {
  return moonbox_isalpha(c) || moonbox_isdigit(c);
}
static inline int moonbox_ispunct (int c) {
  return moonbox_isgraph(c) && !moonbox_isalnum(c);
}
static inline int moonbox_isspace (int c) { return c == ' ' || (unsigned)c - '\t' < 5; }
static inline int moonbox_iscntrl (int c) { return (unsigned)c < 0x20 || c == 0x7f; }
static inline int moonbox_isxdigit (int c) {
  return moonbox_isdigit(c) || ((unsigned)c | 32) - 'a' < 6;
}
static inline int moonbox_tolower (int c) { return moonbox_isupper(c) ? (c | 32) : c; }
static inline int moonbox_toupper (int c) { return moonbox_islower(c) ? (c & 0x5f) : c; }
#undef isalpha
#undef isdigit
#undef islower
#undef isupper
#undef isgraph
#undef isalnum
#undef ispunct
#undef isspace
#undef iscntrl
#undef isxdigit
#undef tolower
#undef toupper
#define isalpha		moonbox_isalpha
#define isdigit		moonbox_isdigit
#define islower		moonbox_islower
#define isupper		moonbox_isupper
#define isgraph		moonbox_isgraph
#define isalnum		moonbox_isalnum
#define ispunct		moonbox_ispunct
#define isspace		moonbox_isspace
#define iscntrl		moonbox_iscntrl
#define isxdigit	moonbox_isxdigit
#define tolower		moonbox_tolower
#define toupper		moonbox_toupper

/* 'string.format' spans each conversion's flags with 'strspn', which in
   musl first builds a 256-bit set from the accepted characters; for the
   one or two characters of a typical specification a direct scan is
   cheaper. */
static inline size_t moonbox_strspn (const char *s, const char *accept) {
  size_t n = 0;
  for (; s[n] != '\0'; n++) {
    const char *a = accept;
    while (*a != '\0' && *a != s[n]) a++;
    if (*a == '\0') break;
  }
  return n;
}
#define strspn		moonbox_strspn
#endif

/* auxiliary library */
#include "lauxlib.c"

/* standard libraries */
#include "lbaselib.c"
#include "lcorolib.c"
#include "ldblib.c"
#include "liolib.c"
/* 'luaopen_math' seeds the generator from the clock; the prelude reseeds
   it from the sandbox's config at once (prelude.lua). In wasm reading the
   clock is a host call, which the build's pre-initialisation of the guest
   cannot make (tools/guest-snapshot), so the first seed is a constant. */
#if defined(__wasi__)
#define time(t)	((time_t)0)
#endif
#include "lmathlib.c"
#if defined(__wasi__)
#undef time
#endif
#include "loadlib.c"
#include "loslib.c"
#include "lstrlib.c"
#include "ltablib.c"
#include "lutf8lib.c"
#include "linit.c"
