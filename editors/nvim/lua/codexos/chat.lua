-- :CodexChat — a chat buffer: each question retrieves workspace context on the server, the answer
-- streams in, and its sources are listed as lines that jump to the code (<CR> on a source line).
local M = {}

local chat_buf = nil
local history = {}

local function set_lines(first, last, lines)
  vim.bo[chat_buf].modifiable = true
  vim.api.nvim_buf_set_lines(chat_buf, first, last, false, lines)
  vim.bo[chat_buf].modifiable = false
  for _, win in ipairs(vim.fn.win_findbuf(chat_buf)) do
    vim.api.nvim_win_set_cursor(win, { vim.api.nvim_buf_line_count(chat_buf), 0 })
  end
end

local function append(lines)
  set_lines(-1, -1, lines)
end

--- Continues the answer's last line with streamed text (a newline starts a new line).
local function stream(text)
  local last = vim.api.nvim_buf_get_lines(chat_buf, -2, -1, false)[1] or ""
  set_lines(-2, -1, vim.split(last .. text, "\n", { plain = true }))
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
  vim.api.nvim_buf_set_lines(chat_buf, 0, -1, false, { "# CodexOS chat", "<CR> on a source opens it; i asks again." })
  vim.bo[chat_buf].modifiable = false
  vim.keymap.set("n", "<CR>", M.jump, { buffer = chat_buf, desc = "CodexOS: open this source" })
  vim.keymap.set("n", "i", function()
    M.ask()
  end, { buffer = chat_buf, desc = "CodexOS: ask a question" })
  vim.cmd.wincmd("p")
  return chat_buf
end

--- Opens the source under the cursor (`  - path:start-end symbol`) in the previous window.
function M.jump()
  local line = vim.api.nvim_get_current_line()
  local path, start = line:match("^%s+%-%s+(%S+):(%d+)")
  if not path then
    return
  end
  local client = vim.lsp.get_clients({ name = "codexos" })[1]
  local root = client and client.root_dir or vim.fn.getcwd()
  local file = path:sub(1, 1) == "/" and path or (root .. "/" .. path)
  vim.cmd.wincmd("p")
  vim.cmd.edit(vim.fn.fnameescape(file))
  vim.api.nvim_win_set_cursor(0, { math.min(tonumber(start), vim.api.nvim_buf_line_count(0)), 0 })
end

--- Sends `question` with the conversation so far; the answer streams into the buffer.
function M.send(question)
  local codexos = require("codexos")
  ensure_buffer()
  table.insert(history, { role = "user", content = question })
  append({ "", "## You", question, "", "## CodexOS", "" })
  -- The answer's first line: the final answer replaces what streamed (tokens may still be on
  -- their way when the answer arrives).
  local answer_line = vim.api.nvim_buf_line_count(chat_buf) - 1
  local token = codexos.new_token("chat")
  local streamed = false
  codexos.listen(token, function(event)
    if event.kind == "token" and event.text then
      streamed = true
      stream(event.text)
    elseif (event.kind == "status" or event.kind == "warning") and event.text and not streamed then
      -- Said before the first word (the local model loading, a provider with no key), above
      -- where the answer streams.
      local mark = event.kind == "status" and "… " or "! "
      set_lines(answer_line, answer_line, { "_" .. mark .. event.text .. "_" })
      answer_line = answer_line + 1
    end
  end)
  local argument = { messages = vim.deepcopy(history), model = codexos.config.chat_model }
  codexos.execute("codexos.chat", argument, function(result)
    codexos.unlisten(token)
    result = result or {}
    local answer = type(result.answer) == "string" and result.answer or ""
    table.insert(history, { role = "assistant", content = answer })
    local lines = vim.split(answer, "\n", { plain = true })
    vim.list_extend(lines, { "", ("_(%s)_"):format(result.model or "model"), "", "Sources:" })
    for _, source in ipairs(result.sources or {}) do
      local symbol = type(source.symbol) == "string" and source.symbol or ""
      table.insert(lines, ("  - %s:%d-%d %s"):format(source.path, source.start_line, source.end_line, symbol))
    end
    set_lines(answer_line, -1, lines)
  end, {
    token = token,
    on_error = function(err)
      codexos.unlisten(token)
      table.remove(history)
      append({ "", "**error:** " .. err.message })
    end,
  })
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
