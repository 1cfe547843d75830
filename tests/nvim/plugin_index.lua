-- The CodexOS plugin's index control: :CodexIndexCancel cancels the server's index progress (as an
-- editor's Cancel button does) and indexing pauses, searches still answer, :CodexIndexResume goes
-- on from where it stopped; :CodexIndexPause and :CodexIndexResume by command. tests/nvim.rs runs
-- the server with a pause after each committed batch, so the run lasts long enough to cancel.
local H = dofile(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)) .. "/helpers.lua")

-- 120 more files, committed five chunks at a time.
local config = io.open(H.workspace .. "/codexos.toml", "w")
config:write('[index]\ncommit_chunks = 5\nembedder = "builtin"\nupgrade = "none"\n')
config:close()
vim.fn.mkdir(H.workspace .. "/src/gen", "p")
for number = 0, 119 do
  local file = io.open(("%s/src/gen/module_%03d.rs"):format(H.workspace, number), "w")
  file:write(("/// Returns %d.\npub fn value_%d() -> u32 {\n    %d\n}\n"):format(number, number, number))
  file:close()
end

local percentages = {}
vim.api.nvim_create_autocmd("LspProgress", {
  callback = function(args)
    local value = args.data.params.value
    if value.kind == "report" and value.percentage then
      table.insert(percentages, value.percentage)
    end
  end,
})

H.setup_plugin()
local codexos = require("codexos")
H.open_attached("flows/flaky.flow.json")
local function state()
  return codexos.state.server_status and codexos.state.server_status.state
end

H.wait("a committed batch of the indexing progress", function()
  return next(codexos.state.index_progress) ~= nil and #percentages > 0 and percentages[#percentages] > 0
end, function()
  return vim.inspect({ progress = codexos.state.index_progress, percentages = percentages })
end)
vim.cmd("CodexIndexCancel")
H.wait("codexos/status paused", function()
  return state() == "paused"
end, function()
  return vim.inspect(codexos.state.server_status)
end)
H.wait("the cancelled progress to end", function()
  return next(codexos.state.index_progress) == nil
end, function()
  return vim.inspect(codexos.state.index_progress)
end)
if codexos.status() ~= "codexos: paused" then
  H.fail("the statusline component should say paused, it says " .. codexos.status())
end
H.step("cancelling the index progress paused indexing at " .. percentages[#percentages] .. "%")

-- Files are indexed in path order: src/gen/ (the first to be committed) before src/payment.rs.
vim.cmd("CodexSearch returns value")
H.wait("search results while paused", function()
  return #vim.fn.getqflist() > 0
end)
H.step("a paused index answers searches")

vim.cmd("CodexIndexResume")
H.wait("codexos/status ready", function()
  return state() == "ready"
end, function()
  return vim.inspect(codexos.state.server_status)
end)
local summary = codexos.state.server_status.message or ""
local unchanged = tonumber(summary:match("(%d+) unchanged") or "0")
if not (summary:find("125 files", 1, true) and unchanged > 0) then
  H.fail("the resumed run should keep what the paused one committed: " .. summary)
end
H.step("resumed where it stopped: " .. summary)

vim.cmd("CodexIndexPause")
H.wait("codexos/status paused by command", function()
  return state() == "paused"
end)
vim.cmd("CodexIndexResume")
H.wait("codexos/status ready again", function()
  return state() == "ready"
end)
H.step("pause and resume by command")

H.no_errors()
vim.cmd("qa!")
