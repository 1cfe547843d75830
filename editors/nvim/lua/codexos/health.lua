-- :checkhealth codexos
local M = {}

function M.check()
  local health = vim.health
  health.start("codexos")
  if vim.fn.has("nvim-0.10") == 1 then
    health.ok("Neovim " .. tostring(vim.version()))
  else
    health.error("Neovim 0.10 or newer is required (vim.lsp.start, vim.fs.root)")
  end
  local cmd = require("codexos").config.cmd
  local binary = vim.fn.exepath(cmd[1])
  if binary == "" then
    health.error(("`%s` is not on PATH"):format(cmd[1]), { "cargo install --path server/codexos, or set cmd in setup()" })
  else
    local version = vim.fn.system({ binary, "--version" })
    health.ok(("%s: %s"):format(binary, vim.trim(version)))
  end
  local clients = vim.lsp.get_clients({ name = "codexos" })
  if #clients == 0 then
    health.info("no codexos server running (open a *.flow.json to start one)")
  end
  for _, client in ipairs(clients) do
    health.ok(("server %d attached, root %s, encoding %s"):format(client.id, client.root_dir or "?", client.offset_encoding))
    local root = client.root_dir
    if root and vim.uv.fs_stat(root .. "/.codexos/index") then
      health.ok("workspace index found at " .. root .. "/.codexos/index")
    elseif root then
      health.warn("workspace not indexed yet", { "the server indexes on start; or run `codexos index " .. root .. "`" })
    end
  end
end

return M
