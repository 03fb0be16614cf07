-- A first Moonbox script: everything here runs inside the wasm sandbox.
print("Hello from " .. _VERSION .. " in Moonbox!")

local squares = {}
for i = 1, 5 do squares[#squares + 1] = i * i end
print("squares:", table.concat(squares, ", "))

local co = coroutine.wrap(function()
  for word in ("sandboxed scripts yield too"):gmatch("%a+") do coroutine.yield(word) end
end)
print("coroutine says:", co(), co(), co(), co())

print(string.format("pi is about %.5f; 7 // 2 = %d; 2^10 = %g", math.pi, 7 // 2, 2 ^ 10))
print("dice roll with the configured seed:", math.random(1, 6))
