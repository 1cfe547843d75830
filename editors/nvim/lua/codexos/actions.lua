-- :CodexExplain / :CodexRefactor on a visual selection: the server runs the built-in flow
-- (flows/builtin/, overridable per workspace); edits come back through workspace/applyEdit, so
-- they can be undone like any other change. The answer streams into a scratch split.
local M = {}

local function open_answer(kind)
  vim.cmd("botright 15split")
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_win_set_buf(0, buf)
  vim.api.nvim_buf_set_name(buf, ("codexos://%s/%d"):format(kind, buf))
  vim.bo[buf].buftype = "nofile"
  vim.bo[buf].filetype = "markdown"
  vim.bo[buf].modifiable = false
  vim.cmd.wincmd("p")
  return buf
end

local function set_text(buf, text)
  if vim.api.nvim_buf_is_valid(buf) then
    vim.bo[buf].modifiable = true
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, vim.split(text, "\n", { plain = true }))
    vim.bo[buf].modifiable = false
  end
end

--- `args` are the user command's arguments (line1, line2, args).
function M.run(kind, args)
  local codexos = require("codexos")
  local buf = vim.api.nvim_get_current_buf()
  local last = vim.api.nvim_buf_get_lines(buf, args.line2 - 1, args.line2, true)[1] or ""
  local argument = {
    uri = vim.uri_from_bufnr(buf),
    range = {
      start = { line = args.line1 - 1, character = 0 },
      ["end"] = { line = args.line2 - 1, character = #last },
    },
    instruction = args.args ~= "" and args.args or nil,
  }
  local answer_buf = open_answer(kind)
  local streamed = ""
  local token = codexos.new_token(kind)
  codexos.listen(token, function(event)
    if event.kind == "token" and event.text then
      streamed = streamed .. event.text
      set_text(answer_buf, streamed)
    end
  end)
  M.last_output = nil
  codexos.execute("codexos.action." .. kind, argument, function(result)
    codexos.unlisten(token)
    M.last_output = (result and type(result.answer) == "string" and result.answer) or streamed
    set_text(answer_buf, M.last_output)
  end, {
    buf = buf,
    token = token,
    on_error = function(err)
      codexos.unlisten(token)
      set_text(answer_buf, ("codexos.action.%s failed: %s"):format(kind, err.message))
      vim.notify(("codexos: %s failed: %s"):format(kind, err.message), vim.log.levels.ERROR)
    end,
  })
  return answer_buf
end

return M
