/*
 * Runtime for LLVM's setjmp/longjmp lowering on top of the wasm
 * exception-handling proposal (-mllvm -wasm-enable-sjlj). Lua raises every
 * error through longjmp, so this is what makes `error` and `pcall` work.
 * Follows the ABI of wasi-libc's libc-top-half/musl/src/setjmp/wasm32/rt.c.
 */
#include <stddef.h>
#include <stdint.h>

void __wasm_setjmp(void *env, uint32_t label, void *func_invocation_id);
uint32_t __wasm_setjmp_test(void *env, void *func_invocation_id);
void __wasm_longjmp(void *env, int val);

/* The host's price for unwinding (guest-lua/src/lib.rs, WIT `meter`). */
void moonbox_unwinding(void);

/* Must fit in (and be aligned like) a jmp_buf. */
struct jmp_buf_impl {
    void *func_invocation_id;
    uint32_t label;
    /* Handed to the landing pad through the exception payload. */
    struct arg {
        void *env;
        int val;
    } arg;
};

void __wasm_setjmp(void *env, uint32_t label, void *func_invocation_id) {
    struct jmp_buf_impl *jb = env;
    if (label == 0 || func_invocation_id == NULL) {
        __builtin_trap(); /* ABI contract broken: never recover from it */
    }
    jb->func_invocation_id = func_invocation_id;
    jb->label = label;
}

uint32_t __wasm_setjmp_test(void *env, void *func_invocation_id) {
    struct jmp_buf_impl *jb = env;
    if (jb->label == 0 || func_invocation_id == NULL) {
        __builtin_trap();
    }
    return jb->func_invocation_id == func_invocation_id ? jb->label : 0;
}

void __wasm_longjmp(void *env, int val) {
    struct jmp_buf_impl *jb = env;
    /* C: longjmp never makes setjmp return 0. */
    jb->arg.env = env;
    jb->arg.val = val == 0 ? 1 : val;
    /* The runtime's unwinding costs far more time than the fuel of the
     * instructions around it: the host charges for it. */
    moonbox_unwinding();
    __builtin_wasm_throw(1, &jb->arg); /* tag 1 is the C longjmp tag */
}
