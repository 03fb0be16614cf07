-- Runs once per Lua state, before any script, to narrow Lua's base library
-- to what is safe and deterministic. Arguments come from environment.rs. It
-- runs at build time, in the guest's pre-initialised image: nothing here may
-- depend on one sandbox's settings; those go to `configure` below.
local console_out, console_warn = ...

local select, tostring, type, error = select, tostring, type, error
local concat, pack = table.concat, table.pack
local string_find = string.find

-- No file access, no precompiled code.
dofile, loadfile = nil, nil
string.dump = nil

-- `load` keeps its contract (chunk, chunkname, mode, env) but only ever
-- accepts text: a mode without "t" loads nothing.
local raw_load = load
load = function(chunk, chunkname, mode, ...)
  if mode ~= nil and (type(mode) ~= "string" or not string_find(mode, "t", 1, true)) then
    return nil, "load: only text chunks are accepted in the sandbox (mode is '" .. tostring(mode) .. "')"
  end
  return raw_load(chunk, chunkname, "t", ...)
end

-- `collectgarbage` is Lua's own, every option included: the collector's
-- mode and tuning change only when and how much work it does, which is
-- deterministic and paid in fuel, and the allocator's cap holds whatever
-- it does (a stopped collector still collects in an emergency, and a
-- script past its cap gets "not enough memory").

-- print and warn write to the sandbox console, never to the host's streams.
print = function(...)
  local args = pack(...)
  for i = 1, args.n do args[i] = tostring(args[i]) end
  console_out(concat(args, "\t", 1, args.n))
end

local warnings_on = true
warn = function(first, ...)
  local args = pack(first, ...)
  for i = 1, args.n do
    if type(args[i]) ~= "string" then
      error("bad argument #" .. i .. " to 'warn' (string expected, got " .. type(args[i]) .. ")", 2)
    end
  end
  if args.n == 1 and first:sub(1, 1) == "@" then -- control message
    if first == "@on" then warnings_on = true elseif first == "@off" then warnings_on = false end
    return
  end
  if warnings_on then console_warn(concat(args, "", 1, args.n)) end
end

-- math.random is seeded from the sandbox config (`configure`); randomseed()
-- without arguments reseeds deterministically instead of from the clock.
local raw_randomseed = math.randomseed
local seed, reseeds = 0, 0
math.randomseed = function(...)
  if select("#", ...) == 0 then
    reseeds = reseeds + 1
    return raw_randomseed(seed, reseeds)
  end
  return raw_randomseed(...)
end

-- require loads only modules the host defined: the mod's own files, as text,
-- each run once. There is no package library and no search path.
local module_sources, module_chunks, loaded_modules = {}, {}, {}
local loading = {}
local function define_module(name, chunk_name, source)
  module_sources[name], module_chunks[name] = source, chunk_name
end
require = function(name)
  if type(name) ~= "string" then
    error("bad argument #1 to 'require' (string expected, got " .. type(name) .. ")", 2)
  end
  local value = loaded_modules[name]
  if value ~= nil then return value end
  local source = module_sources[name]
  if source == nil then
    error("module '" .. name .. "' not found (a mod may require only its own files)", 2)
  end
  if loading[name] then
    error("module '" .. name .. "' requires itself (circular require)", 2)
  end
  local chunk, message = raw_load(source, "=" .. module_chunks[name], "t")
  if not chunk then error(message, 0) end
  loading[name] = true
  local ok, result = pcall(chunk, name)
  loading[name] = nil
  if not ok then error(result, 0) end
  if result == nil then result = true end
  loaded_modules[name] = result
  return result
end

-- One sandbox's settings, applied when the sandbox is created.
local function configure(sandbox_seed)
  seed, reseeds = sandbox_seed, 0
  raw_randomseed(seed)
end

return define_module, configure
