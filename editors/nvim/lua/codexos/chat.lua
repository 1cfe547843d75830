-- :CodexChat — a chat buffer: each question retrieves workspace context on the server, the answer
-- streams in, and its sources are listed as lines that jump to the code (<CR> on a source line).
local M = {}

local chat_buf = nil
local history = {}

local function append(lines)
  vim.bo[chat_buf].modifiable = true
  vim.api.nvim_buf_set_lines(chat_buf, -1, -1, false, lines)
  vim.bo[chat_buf].modifiable = false
end

local function ensure_buffer()
  if chat_buf and vim.api.nvim_buf_is_valid(chat_buf) then
    return chat_buf
  end
  vim.cmd("botright vsplit")
  chat_buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_win_set_buf(0, chat_buf)
  vim.api.nvim_buf_set_name(chat_buf, "codexos://chat")
  vim.bo[chat_buf].buftype = "nofile"
  vim.bo[chat_buf].filetype = "markdown"
  vim.bo[chat_buf].modifiable = false
  vim.keymap.set("n", "<CR>", M.jump, { buffer = chat_buf, desc = "CodexOS: open this source" })
  vim.keymap.set("n", "i", function()
    M.ask()
  end, { buffer = chat_buf, desc = "CodexOS: ask a question" })
  vim.cmd.wincmd("p")
  return chat_buf
end

--- Opens the source under the cursor (`  path:start-end symbol`).
function M.jump()
  local line = vim.api.nvim_get_current_line()
  local path, start = line:match("^%s+%-%s+(%S+):(%d+)")
  if not path then
    return
  end
  local root = vim.lsp.get_clients({ name = "codexos" })[1]
  root = root and root.root_dir or vim.fn.getcwd()
  local file = path:sub(1, 1) == "/" and path or (root .. "/" .. path)
  vim.cmd("wincmd p")
  vim.cmd.edit(vim.fn.fnameescape(file))
  vim.api.nvim_win_set_cursor(0, { tonumber(start), 0 })
end

--- Sends `question`; the answer streams into the buffer through run events.
function M.send(question)
  ensure_buffer()
  table.insert(history, { role = "user", content = question })
  append({ "", "## You", question, "", "## CodexOS", "" })
  local run = require("codexos.run")
  run.stream_into = chat_buf
  require("codexos").execute("codexos.chat", { messages = history }, function(result)
    run.stream_into = nil
    result = result or {}
    table.insert(history, { role = "assistant", content = result.answer or "" })
    local lines = { "", ("_(%s)_"):format(result.model or "model"), "", "Sources:" }
    for _, source in ipairs(result.sources or {}) do
      table.insert(lines, ("  - %s:%d-%d %s"):format(source.path, source.start_line, source.end_line, source.symbol or ""))
    end
    append(lines)
  end)
end

function M.ask()
  vim.ui.input({ prompt = "Ask CodexOS: " }, function(question)
    if question and question ~= "" then
      M.send(question)
    end
  end)
end

function M.open(question)
  ensure_buffer()
  if question then
    M.send(question)
  else
    M.ask()
  end
end

function M.buffer()
  return chat_buf
end

return M
