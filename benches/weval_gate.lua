-- The weval gate's benchmark functions (issue 18): a call-bound and a
-- loop-bound program, loaded as a mod. guest-lua/weval-gate.sh specialises
-- a guest for this file (target/guest-weval/weval.wasm).
if fib == nil then
  function fib(n)
    if n < 2 then return n end
    return fib(n - 1) + fib(n - 2)
  end
  function loop(n)
    local s = 0
    for i = 1, n do s = s + i % 7 * 3 end
    return s
  end
  -- Deep, not tail, recursion: specialised calls nest on the wasm stack.
  function depth(n)
    if n == 0 then return 0 end
    return 1 + depth(n - 1)
  end
end
