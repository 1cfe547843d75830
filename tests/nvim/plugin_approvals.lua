-- A flow whose `tool` node runs a shell command, run with :CodexRun in a workspace whose
-- codexos.toml turns the shell tool on: the server asks the user through
-- `window/showMessageRequest` before anything runs, and this script answers as a user would.
--
-- The path is Neovim's own: 0.11's default handler for `window/showMessageRequest`
-- (runtime/lua/vim/lsp/handlers.lua) runs in a coroutine and calls
-- `vim.ui.select(actions, { kind = "lsp_message", prompt = message .. ": " }, …)`, answering the
-- server with the picked action, or null when the user dismisses the list. So the script replaces
-- `vim.ui.select` — what UI plugins (dressing.nvim, telescope-ui-select, …) do too — and keeps
-- the LSP handler as it ships.
--
-- Deny: the node fails, saying so, and proof.txt is not written. Dismissing the list is a Deny.
-- Allow once: the command runs, and nothing is remembered. Allow: the command runs and the
-- user's trust store (outside the workspace) holds it. The next run is not asked at all.
local H = dofile(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)) .. "/helpers.lua")

local COMMAND = "echo approved > proof.txt"
local proof = H.workspace .. "/proof.txt"
-- tests/nvim.rs gives each session its own XDG_CONFIG_HOME: the trust store is this test's.
local trust_store = os.getenv("XDG_CONFIG_HOME") .. "/codexos/trust.toml"

--- Every list the server asked the user to pick from: `{prompt, titles}`.
local asked = {}
--- What the user picks next: an action's title, or nil to dismiss the list (Esc).
local answer

local builtin_select = vim.ui.select
vim.ui.select = function(items, opts, on_choice)
  if opts.kind ~= "lsp_message" then
    return builtin_select(items, opts, on_choice)
  end
  local titles = vim.tbl_map(function(item)
    return item.title
  end, items)
  table.insert(asked, { prompt = opts.prompt, titles = titles })
  io.stdout:write(("asked: %s -> %s\n"):format(opts.prompt:gsub("\n", " "), answer or "(dismissed)"))
  for _, item in ipairs(items) do
    if item.title == answer then
      return on_choice(item)
    end
  end
  on_choice(nil)
end

H.setup_plugin()
H.open_attached("flows/proof.flow.json")
H.step("codexos lsp attached")

local function exists(path)
  return vim.uv.fs_stat(path) ~= nil
end

local function read(path)
  local file = io.open(path, "r")
  if not file then
    return ""
  end
  local text = file:read("*a")
  file:close()
  return text
end

--- Fails unless each Lua pattern matches a line of `lines`, in this order.
local function assert_in_order(what, lines, patterns)
  local at = 1
  for _, pattern in ipairs(patterns) do
    while at <= #lines and not lines[at]:find(pattern) do
      at = at + 1
    end
    if at > #lines then
      H.fail(("%s: no line matching `%s` (in order) in:\n%s"):format(what, pattern, table.concat(lines, "\n")))
    end
    at = at + 1
  end
end

local runs = 0
--- Runs the flow with :CodexRun, the user answering `pick`; returns the console's lines once the
--- run has ended with `ending` ("■ failed", "■ succeeded").
local function run(pick, ending)
  answer = pick
  runs = runs + 1
  vim.cmd("CodexRun flows/proof.flow.json " .. "run " .. runs)
  local pattern = "^codexos://run/proof%.flow%.json/"
  local buf
  H.wait("the console of run " .. runs, function()
    -- Each run opens a console of its own: the newest is the one with the highest number.
    for _, candidate in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_get_name(candidate):match(pattern) and (not buf or candidate > buf) then
        buf = candidate
      end
    end
    return buf and H.text(buf):find("\n■ ", 1, true) ~= nil
  end, function()
    return buf and H.text(buf) or "(no console)"
  end)
  local lines = H.lines(buf)
  if not H.text(buf):find("\n" .. ending, 1, true) then
    H.fail(("run %d should end with %s:\n%s"):format(runs, ending, H.text(buf)))
  end
  return lines
end

local function command_quoted()
  return "`" .. vim.pesc(COMMAND) .. "`"
end

-- Deny: nothing runs, and the console says who refused what.
local denied = run("Deny", "■ failed")
if #asked ~= 1 then
  H.fail("the first run should ask once, it asked " .. #asked .. " times")
end
local question = asked[1]
if not vim.deep_equal(question.titles, { "Allow", "Allow once", "Deny" }) then
  H.fail("the actions should be Allow, Allow once, Deny: " .. vim.inspect(question.titles))
end
for _, expected in ipairs({ COMMAND, "node `stamp` of flow `proof`", "tool `shell`" }) do
  if not question.prompt:find(expected, 1, true) then
    H.fail(("the question should name %s:\n%s"):format(expected, question.prompt))
  end
end
assert_in_order("the denied run's console", denied, {
  "^▶ stamp %(tool%)$",
  "^⛔ stamp: shell refused by you: run the shell command " .. command_quoted() .. ": you denied it",
  "^✗ stamp: .*refused: you denied it",
  "^■ failed %(run [%w-]+%)$",
})
if exists(proof) then
  H.fail("a denied command must not run, but proof.txt exists")
end
if read(trust_store):find(COMMAND, 1, true) then
  H.fail("a denied command must not be remembered:\n" .. read(trust_store))
end
H.step("Deny failed the node and ran nothing: " .. table.concat(denied, " | "))

-- Dismissing the list (Esc) is a Deny too.
local dismissed = run(nil, "■ failed")
assert_in_order("the dismissed run's console", dismissed, { "^⛔ stamp: shell refused by you", "^✗ stamp: .*you denied it" })
if #asked ~= 2 or exists(proof) then
  H.fail(("dismissing should ask once more and run nothing (asked %d times, proof.txt %s)"):format(#asked, tostring(exists(proof))))
end
H.step("dismissing the question is a Deny")

-- Allow once: the command runs, and the next run asks again.
local once = run("Allow once", "■ succeeded")
assert_in_order("the allowed-once run's console", once, {
  "^▶ stamp %(tool%)$",
  "^✔ stamp: shell allowed by you: run the shell command " .. command_quoted() .. ": you allowed it this once$",
  "^✓ stamp %(%d+ ms%)$",
  "^■ succeeded %(run [%w-]+%)$",
})
if read(proof) ~= "approved\n" then
  H.fail("Allow once should run the command, proof.txt holds: " .. vim.inspect(read(proof)))
end
if read(trust_store):find(COMMAND, 1, true) then
  H.fail("Allow once must not be remembered:\n" .. read(trust_store))
end
if #asked ~= 3 then
  H.fail("Allow once asks once: asked " .. #asked .. " times")
end
os.remove(proof)
H.step("Allow once ran the command without remembering it")

-- Allow: the command runs, and the user's trust store remembers it for this workspace.
local allowed = run("Allow", "■ succeeded")
assert_in_order("the allowed run's console", allowed, {
  "^✔ stamp: shell allowed by you: run the shell command " .. command_quoted() .. ": you allowed it; .* is remembered",
  "^✓ stamp %(%d+ ms%)$",
  "^■ succeeded %(run [%w-]+%)$",
})
if #asked ~= 4 then
  H.fail("Allow asks once: asked " .. #asked .. " times")
end
if read(proof) ~= "approved\n" then
  H.fail("Allow should run the command, proof.txt holds: " .. vim.inspect(read(proof)))
end
if not read(trust_store):find(COMMAND, 1, true) then
  H.fail("Allow should remember the command in " .. trust_store .. ":\n" .. read(trust_store))
end
os.remove(proof)
H.step("Allow ran the command and remembered it in " .. trust_store)

-- Remembered: the next run is not asked, and the console says the trust store allowed it.
local remembered = run("Deny", "■ succeeded")
if #asked ~= 4 then
  H.fail("a remembered command should not be asked again: asked " .. #asked .. " times")
end
assert_in_order("the remembered run's console", remembered, {
  "^✔ stamp: shell allowed by trust store: run the shell command " .. command_quoted(),
  "^✓ stamp %(%d+ ms%)$",
  "^■ succeeded %(run [%w-]+%)$",
})
if read(proof) ~= "approved\n" then
  H.fail("the remembered command should run, proof.txt holds: " .. vim.inspect(read(proof)))
end
H.step(("a remembered command runs unasked (%d questions in %d runs)"):format(#asked, runs))

H.no_errors()
vim.cmd("qa!")
