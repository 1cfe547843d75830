-- :CodexChat and :CodexExplain against the real server, whose OpenAI-compatible calls go to the
-- test's fake provider (tests/nvim.rs): the chat buffer shows the answer while it streams, then
-- its sources as lines that <CR> opens at their range; :'<,'>CodexExplain on a visual selection
-- shows the explanation in a split; :CodexRefactor's edit lands in the buffer and undoes.
local H = dofile(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)) .. "/helpers.lua")

H.setup_plugin()
local codexos = require("codexos")
H.open_attached("flows/flaky.flow.json")
-- The chat's context comes from the index: wait until the server has built it.
H.wait("codexos/status ready", function()
  return codexos.state.server_status and codexos.state.server_status.state == "ready"
end, function()
  return vim.inspect(codexos.state.server_status)
end)
H.step("codexos lsp attached and the workspace indexed")

local question = "How are failed payments retried?"
vim.cmd("CodexChat " .. question)
local chat = require("codexos.chat").buffer() or H.fail(":CodexChat opened no buffer")
-- Every state of the buffer while the answer arrives.
local states = {}
vim.api.nvim_buf_attach(chat, false, {
  on_lines = function()
    vim.schedule(function()
      states[#states + 1] = H.text(chat)
    end)
  end,
})
local answer = "Payments are retried with exponential backoff in retry_payment."
local text = H.wait("the chat's answer and sources", function()
  local text = H.text(chat)
  return text:find("\nSources:", 1, true) and text:find("\n  - src/", 1, true) and text
end, function()
  return H.text(chat) .. "\n(notifications: " .. vim.inspect(H.notifications) .. ")"
end)
for _, expected in ipairs({ "## You\n" .. question, "## CodexOS\n" .. answer, "gpt-4o-mini" }) do
  if not text:find(expected, 1, true) then
    H.fail(("the chat buffer lacks `%s`:\n%s"):format(expected, text))
  end
end
local partial = vim.tbl_filter(function(state)
  return state:find("Payments are retried", 1, true) and not state:find(answer, 1, true)
end, states)
if #partial == 0 then
  H.fail("the answer should appear while it streams; the buffer's states were:\n" .. table.concat(states, "\n----\n"))
end
H.step(("chat answered, streamed through %d partial states"):format(#partial))

-- <CR> on the payment source opens the file at the source's first line.
local source_line, source_path, source_start
for number, line in ipairs(H.lines(chat)) do
  local path, start = line:match("^  %- (src/payment%.rs):(%d+)%-%d+")
  if path then
    source_line, source_path, source_start = number, path, tonumber(start)
    break
  end
end
if not source_line then
  H.fail("no src/payment.rs source in the chat:\n" .. text)
end
vim.api.nvim_set_current_win(vim.fn.win_findbuf(chat)[1])
vim.api.nvim_win_set_cursor(0, { source_line, 0 })
vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes("<CR>", true, false, true), "x", false)
local opened = vim.api.nvim_buf_get_name(0)
if not opened:match("src/payment%.rs$") or vim.api.nvim_win_get_cursor(0)[1] ~= source_start then
  H.fail(("<CR> on the source should open %s at line %d, it shows %s at %d"):format(
    source_path,
    source_start,
    opened,
    vim.api.nvim_win_get_cursor(0)[1]
  ))
end
H.step(("<CR> on a source opened %s:%d"):format(source_path, source_start))

-- :'<,'>CodexExplain on lines 3-4, selected in visual mode as a user does.
vim.api.nvim_feedkeys("3GVj:CodexExplain\r", "x", false)
local explain = H.wait("the explanation's split", function()
  return H.buffer_named("^codexos://explain/")
end)
local explanation = H.wait("the explanation", function()
  local text = H.text(explain)
  return text:find("each attempt", 1, true) and text
end, function()
  return H.text(explain) .. "\n(notifications: " .. vim.inspect(H.notifications) .. ")"
end)
if explanation ~= "It doubles the delay before each attempt." or #vim.fn.win_findbuf(explain) ~= 1 then
  H.fail("the explanation should show in a split, it is: " .. explanation)
end
H.step("explain on a visual selection: " .. explanation)

-- :CodexRefactor on line 3: the server's edit arrives through workspace/applyEdit and undoes
-- like any other change.
local source = vim.api.nvim_get_current_buf()
local before = H.lines(source)
vim.cmd("3CodexRefactor name the first delay INITIAL_DELAY_MS")
H.wait("the refactoring's edit in the buffer", function()
  return vim.api.nvim_buf_get_lines(source, 2, 3, false)[1] == "    let mut delay_ms = INITIAL_DELAY_MS;"
end, function()
  return H.text(source) .. "\n(notifications: " .. vim.inspect(H.notifications) .. ")"
end)
if #H.lines(source) ~= #before or not vim.bo[source].modified then
  H.fail("the edit should replace line 3 only, unsaved:\n" .. H.text(source))
end
vim.api.nvim_buf_call(source, function()
  vim.cmd("silent undo")
end)
if not vim.deep_equal(H.lines(source), before) then
  H.fail("undo should restore the code:\n" .. H.text(source))
end
H.step("refactor edited line 3 through workspace/applyEdit, and undo restored it")

H.no_errors()
vim.cmd("qa!")
