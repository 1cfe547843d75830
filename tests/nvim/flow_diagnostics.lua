-- Neovim as a real client of `codexos lsp`: run with `nvim --headless --clean -l flow_diagnostics.lua`
-- and `codexos` on PATH (tests/nvim.rs does both). Uses exactly the README's plugin-less config,
-- opens a broken flow and checks what a user sees: diagnostics with their codes, node ids offered
-- inside `"next": ""`, and go to definition landing on the node's id. Exits non-zero on failure.

local here = vim.fs.dirname(vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":p"))
local repo = vim.fs.dirname(vim.fs.dirname(here))
-- tests/nvim.rs runs on a copy of workspace/ so that nothing the server writes lands in the repository.
local workspace = os.getenv("CODEXOS_TEST_WORKSPACE") or (here .. "/workspace")
local flow_path = workspace .. "/broken.flow.json"
local timeout_ms = 20000

local function fail(message)
  io.stderr:write("FAIL: " .. message .. "\n")
  vim.cmd("cq!")
end

local function step(message)
  io.stdout:write("ok: " .. message .. "\n")
end

-- Find the 0-based line and byte column of the first `needle` (plain text) in the buffer.
local function find(buf, needle)
  for line_number, line in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, true)) do
    local column = line:find(needle, 1, true)
    if column then
      return line_number - 1, column - 1
    end
  end
  fail("the fixture has no " .. needle)
end

if vim.fn.exepath("codexos") == "" then
  fail("no `codexos` on PATH")
end
local expected_binary = os.getenv("CODEXOS_BIN")
if expected_binary and vim.fn.exepath("codexos") ~= expected_binary then
  fail("`codexos` on PATH is " .. vim.fn.exepath("codexos") .. ", not the binary under test " .. expected_binary)
end

dofile(repo .. "/editors/nvim/minimal-init.lua")
vim.cmd.edit(vim.fn.fnameescape(flow_path))
local buf = vim.api.nvim_get_current_buf()

local client
if not vim.wait(timeout_ms, function()
  client = vim.lsp.get_clients({ bufnr = buf, name = "codexos" })[1]
  return client ~= nil and client.initialized
end, 50) then
  fail("codexos lsp did not attach to " .. flow_path)
end
step("codexos lsp attached, position encoding " .. client.offset_encoding)

-- Diagnostics: the typo in `next` and the missing exit, each with its stable code.
local function codes()
  local found = {}
  for _, diagnostic in ipairs(vim.diagnostic.get(buf)) do
    found[diagnostic.code or "?"] = diagnostic
  end
  return found
end
if not vim.wait(timeout_ms, function()
  local found = codes()
  return found["unknown-node"] ~= nil and found["missing-exit"] ~= nil
end, 50) then
  fail("expected diagnostics unknown-node and missing-exit, got " .. vim.inspect(vim.diagnostic.get(buf)))
end
local unknown = codes()["unknown-node"]
local typo_line, typo_column = find(buf, '"sumarizer"')
if unknown.lnum ~= typo_line or unknown.col < typo_column or unknown.col > typo_column + 1 then
  fail(("unknown-node should point at %d:%d, it is at %d:%d"):format(typo_line, typo_column, unknown.lnum, unknown.col))
end
if unknown.severity ~= vim.diagnostic.severity.ERROR then
  fail("unknown-node should be an error, it is " .. vim.inspect(unknown))
end
if not unknown.message:find("summarizer", 1, true) then
  fail("unknown-node should suggest `summarizer`, it says: " .. unknown.message)
end
step("diagnostics " .. table.concat(vim.tbl_keys(codes()), ", "))

-- Completion: clear the typo, as a user about to pick a node, and ask inside the empty quotes.
vim.api.nvim_buf_set_text(buf, typo_line, typo_column + 1, typo_line, typo_column + 1 + #"sumarizer", { "" })
vim.api.nvim_win_set_cursor(0, { typo_line + 1, typo_column + 1 })
local response = client:request_sync(
  "textDocument/completion",
  vim.lsp.util.make_position_params(0, client.offset_encoding),
  timeout_ms,
  buf
)
if not response or response.err then
  fail("completion failed: " .. vim.inspect(response))
end
local items = response.result and (response.result.items or response.result) or {}
local labels = {}
for _, item in ipairs(items) do
  labels[#labels + 1] = (item.label:gsub('^"(.*)"$', "%1"))
end
if not vim.tbl_contains(labels, "summarizer") then
  fail('completion inside "next": "" should offer the node id summarizer, got ' .. vim.inspect(labels))
end
if vim.tbl_contains(labels, "llm") then
  fail('completion inside "next": "" should offer node ids, not node types: ' .. vim.inspect(labels))
end
step("completion offers " .. table.concat(labels, ", "))

-- Go to definition: from `"next": "planner"` in the entry node to the planner node's id.
local reference_line, reference_column = find(buf, '"next": "planner"')
vim.api.nvim_win_set_cursor(0, { reference_line + 1, reference_column + #'"next": "p' })
local declaration_line, declaration_column = find(buf, '"id": "planner"')
declaration_column = declaration_column + #'"id": '
vim.lsp.buf.definition()
if not vim.wait(timeout_ms, function()
  return vim.api.nvim_win_get_cursor(0)[1] == declaration_line + 1
end, 50) then
  fail(("go to definition should jump to line %d, the cursor is at %s"):format(
    declaration_line + 1,
    vim.inspect(vim.api.nvim_win_get_cursor(0))
  ))
end
local cursor_column = vim.api.nvim_win_get_cursor(0)[2]
if cursor_column ~= declaration_column and cursor_column ~= declaration_column + 1 then
  fail(("go to definition should land on the id at column %d, it is at column %d"):format(
    declaration_column,
    cursor_column
  ))
end
step("go to definition jumped to the planner node's id")

vim.cmd("qa!")
