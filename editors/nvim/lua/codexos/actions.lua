-- :CodexExplain / :CodexRefactor on a visual selection: the server runs the built-in flow
-- (flows/builtin/, overridable per workspace); edits come back through workspace/applyEdit, so
-- they can be undone like any other change. The answer opens in a scratch split.
local M = {}

local function show(title, text)
  vim.cmd("botright 15split")
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_win_set_buf(0, buf)
  vim.api.nvim_buf_set_name(buf, ("codexos://%s/%d"):format(title, buf))
  vim.bo[buf].buftype = "nofile"
  vim.bo[buf].filetype = "markdown"
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, vim.split(text, "\n", { plain = true }))
  vim.bo[buf].modifiable = false
  vim.cmd.wincmd("p")
  return buf
end

--- `args` are the user command's arguments (line1, line2, args).
function M.run(kind, args)
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
  M.last_output = nil
  require("codexos").execute("codexos.action." .. kind, argument, function(result)
    M.last_output = (result and result.answer) or ""
    show(kind, M.last_output)
  end, buf)
end

return M
