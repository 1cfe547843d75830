-- :checkhealth codexos: what is missing, each with the command that fixes it.
local M = {}

--- `codexos models list --json` (local models and providers), or nil and why not.
local function models_report(binary)
  local result = vim.system({ binary, "models", "list", "--json" }, { text = true }):wait(15000)
  if result.code ~= 0 then
    return nil, vim.trim(result.stderr or "") ~= "" and vim.trim(result.stderr) or ("exit " .. tostring(result.code))
  end
  local ok, report = pcall(vim.json.decode, result.stdout or "")
  if not ok or type(report) ~= "table" then
    return nil, "`codexos models list --json` did not print JSON"
  end
  return report
end

function M.check()
  local health = vim.health
  health.start("codexos")
  if vim.fn.has("nvim-0.11") == 1 then
    health.ok("Neovim " .. tostring(vim.version()))
  else
    health.error("Neovim 0.11 or newer is required (vim.lsp.config, vim.system)", { "install Neovim 0.11" })
  end
  local cmd = require("codexos").config.cmd
  local binary = vim.fn.exepath(cmd[1])
  if binary == "" then
    health.error(("`%s` is not on PATH"):format(cmd[1]), {
      "cargo install --locked --path server/codexos (from the CodexOS repository)",
      "or give its path: require('codexos').setup({ cmd = { '/path/to/codexos', 'lsp' } })",
    })
  else
    local version = vim.fn.system({ binary, "--version" })
    health.ok(("%s: %s"):format(binary, vim.trim(version)))
    local report, problem = models_report(binary)
    if not report then
      health.warn("cannot list the local models and providers: " .. problem)
    else
      local missing = {}
      for _, model in ipairs(report.models or {}) do
        if model.installed then
          health.ok(("local model %s at %s"):format(model.name, model.path))
        else
          table.insert(missing, model.name)
        end
      end
      if #missing > 0 then
        health.warn(
          ("local models not installed: %s (search falls back to the built-in embedder, runs without a provider key have no model)"):format(
            table.concat(missing, ", ")
          ),
          { "codexos models install" }
        )
      end
      local answering = {}
      for _, provider in ipairs(report.providers or {}) do
        if provider.state == "ready" then
          table.insert(answering, provider.id)
        elseif provider.state == "skipped" then
          health.info(("provider %s skipped: %s"):format(provider.id, provider.detail or "?"))
        else
          health.warn(("provider %s %s: %s"):format(provider.id, provider.state, provider.detail or "?"))
        end
      end
      if #answering > 0 then
        health.ok("providers answering: " .. table.concat(answering, ", "))
      else
        health.info("no provider answers: flows run on the local model (codexos models install)")
      end
    end
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
