-- The CodexOS plugin (editors/nvim) in a workspace the server indexes: index progress through
-- LspProgress and vim.lsp.status() until the status says ready, every buffer of the indexed
-- workspace attaches, :CodexSearch fills the quickfix list, :CodexVaultPut stores a secret that
-- the vault lists by name only, and :checkhealth codexos reports the binary, server and index.
local H = dofile(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)) .. "/helpers.lua")

-- What a user's statusline would have shown, recorded as the events arrive.
local progress = { begin = {}, report = {}, ["end"] = {}, lsp_status = {}, states = {}, statusline = {} }
vim.api.nvim_create_autocmd("LspProgress", {
  callback = function(args)
    local value = args.data.params.value
    table.insert(progress[value.kind], value)
    table.insert(progress.lsp_status, vim.lsp.status())
  end,
})
vim.api.nvim_create_autocmd("User", {
  pattern = "CodexStatus",
  callback = function(args)
    table.insert(progress.states, args.data.state)
    table.insert(progress.statusline, require("codexos").status())
  end,
})

H.setup_plugin()
local codexos = require("codexos")
if codexos.status() ~= "" then
  H.fail("the statusline component should be empty before a server runs, it is " .. codexos.status())
end

-- A flow file starts the server, which indexes the workspace in the background.
local flow_buf, client = H.open_attached("flows/flaky.flow.json")
H.step("codexos lsp attached to a flow, root " .. client.root_dir)

H.wait("codexos/status ready", function()
  return codexos.state.server_status and codexos.state.server_status.state == "ready"
end, function()
  return vim.inspect(progress)
end)
local function saw(list, predicate)
  for _, item in ipairs(list) do
    if predicate(item) then
      return true
    end
  end
  return false
end
-- The progress ends before (or just as) the ready status arrives: wait for its `end`.
H.wait("the indexing progress to end", function()
  return #progress["end"] > 0
end, function()
  return vim.inspect(progress)
end)
if not saw(progress.begin, function(v)
  return v.title == "Indexing workspace"
end) then
  H.fail("no `Indexing workspace` progress began: " .. vim.inspect(progress))
end
if not saw(progress.lsp_status, function(s)
  return s:find("Indexing workspace", 1, true) ~= nil
end) then
  H.fail("vim.lsp.status() never showed the indexing: " .. vim.inspect(progress.lsp_status))
end
if not (vim.tbl_contains(progress.states, "indexing") and progress.states[#progress.states] == "ready") then
  H.fail("the status should go through indexing to ready: " .. vim.inspect(progress.states))
end
local function shows_percentage(line)
  return line:match("^codexos: indexing %d+%%$") ~= nil
end
if not (saw(progress.statusline, shows_percentage) and codexos.status() == "codexos: ready") then
  H.fail("the statusline component should show indexing N% then ready: " .. vim.inspect(progress.statusline))
end
local summary = codexos.state.server_status.message or ""
if not summary:find("5 files", 1, true) then
  H.fail("the ready status should count the workspace's five files (sources, flows, codexos.toml), it says: " .. summary)
end
H.step(("index progress `%s`, then `%s` (%s)"):format(progress.lsp_status[1], codexos.status(), summary))

-- The workspace is indexed now: a source file attaches too (same server).
local source_buf, source_client = H.open_attached("src/payment.rs")
if source_client.id ~= client.id then
  H.fail("src/payment.rs should share the flow's server, got client " .. source_client.id)
end
H.step("a source file of the indexed workspace attached to the same server")

-- :CodexSearch into the quickfix list; the first hit is the payment function.
vim.cmd("CodexSearch retry payment backoff")
local items = H.wait("search results in the quickfix list", function()
  local list = vim.fn.getqflist({ title = 1, items = 1 })
  return #list.items > 0 and list
end, function()
  return vim.inspect(vim.fn.getqflist())
end)
if items.title ~= "CodexOS: retry payment backoff" then
  H.fail("the quickfix list's title should name the query, it is " .. items.title)
end
local first = items.items[1]
local first_file = vim.api.nvim_buf_get_name(first.bufnr)
if not first_file:match("src/payment%.rs$") or not first.text:find("retry_payment", 1, true) then
  H.fail("the first result should be retry_payment in src/payment.rs: " .. vim.inspect(items.items))
end
if vim.bo[vim.api.nvim_get_current_buf()].buftype ~= "quickfix" then
  H.fail(":CodexSearch should open the quickfix window")
end
vim.cmd("cfirst")
if vim.api.nvim_get_current_buf() ~= source_buf or vim.api.nvim_win_get_cursor(0)[1] ~= first.lnum then
  H.fail(":cfirst should land on the result's line " .. first.lnum)
end
H.step(("search put %d results in quickfix, first %s:%d"):format(#items.items, vim.fn.fnamemodify(first_file, ":."), first.lnum))

-- :CodexVaultPut asks for the value hidden (a user types it at the inputsecret() prompt).
local secret = "sk-nvim-planted-7d1e4f"
local prompted
vim.fn.inputsecret = function(prompt)
  prompted = prompt
  return secret
end
vim.cmd("CodexVaultPut stripe_key")
H.wait("the vault to store stripe_key", function()
  return saw(H.notifications, function(n)
    return n.message:find("stripe_key stored", 1, true) ~= nil
  end)
end, function()
  return vim.inspect(H.notifications)
end)
if not (prompted or ""):find("stripe_key", 1, true) then
  H.fail("the value prompt should name the key, it was " .. tostring(prompted))
end
local listed = client:request_sync("workspace/executeCommand", {
  command = "codexos.vault.list",
  arguments = { {} },
}, H.timeout_ms, flow_buf)
if not listed or listed.err or not saw(listed.result or {}, function(entry)
  return entry.key == "stripe_key"
end) then
  H.fail("codexos.vault.list should list stripe_key: " .. vim.inspect(listed))
end
if vim.inspect(listed.result):find(secret, 1, true) then
  H.fail("the vault listing shows the secret's value")
end
H.step("vault put stripe_key, listed by name only")

-- :checkhealth codexos
vim.cmd("checkhealth codexos")
local health = H.wait("the health report", function()
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.bo[buf].filetype == "checkhealth" and H.text(buf):find("workspace index found", 1, true) then
      return H.text(buf)
    end
  end
end, function()
  return vim.inspect(vim.tbl_map(H.text, vim.api.nvim_list_bufs()))
end)
for _, expected in ipairs({ "OK Neovim", "codexos 0.1", "attached, root " .. H.workspace, "workspace index found" }) do
  if not health:find(expected, 1, true) then
    H.fail("the health report lacks `" .. expected .. "`:\n" .. health)
  end
end
if health:find("ERROR", 1, true) then
  H.fail("the health report has an error:\n" .. health)
end
H.step("checkhealth reports the binary, the server and the index")

H.no_errors()
vim.cmd("qa!")
