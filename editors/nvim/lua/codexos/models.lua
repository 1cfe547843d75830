-- The local models, installed by the server (`codexos.models.install`): :CodexModelsInstall [NAME...]
-- shows each step as it goes and says what it installed; the first server of a session that finds
-- models missing says so once, with the command and the download's size.
local M = {}

local told = false

local function megabytes(bytes)
  return math.floor((bytes or 0) / 1000000 + 0.5)
end

--- Once a session: when the server reports missing models, one line naming them and the command.
function M.tell_if_missing(client)
  if told then
    return
  end
  told = true
  local params = { command = "codexos.models.status", arguments = { {} } }
  client:request("workspace/executeCommand", params, function(err, status)
    if err or not status or #(status.missing or {}) == 0 then
      return
    end
    vim.notify(
      ("codexos: local models not installed (%s): search uses the built-in embedder and answers need a provider. :CodexModelsInstall downloads them (%d MB)"):format(
        table.concat(status.missing, ", "),
        megabytes(status.download_bytes)
      ),
      vim.log.levels.INFO
    )
  end)
end

--- Installs `names` (all models when empty), echoing the server's progress.
function M.install(names)
  local codexos = require("codexos")
  local token = codexos.new_token("models")
  local group = vim.api.nvim_create_augroup("codexos_models_" .. token, { clear = true })
  vim.api.nvim_create_autocmd("LspProgress", {
    group = group,
    callback = function(args)
      local params = args.data and args.data.params or {}
      local value = params.value or {}
      if params.token == token and value.message then
        vim.api.nvim_echo({ { "codexos: models: " .. value.message } }, false, {})
      end
    end,
  })
  local function done()
    pcall(vim.api.nvim_del_augroup_by_id, group)
  end
  vim.notify("codexos: installing the local models (progress in the message line)")
  codexos.execute("codexos.models.install", { names = names }, function(result)
    done()
    if #result.installed == 0 then
      vim.notify(("codexos: every local model asked for is already installed in %s"):format(result.dir))
    else
      vim.notify(
        ("codexos: installed %s in %d s (%d MB downloaded); the workspace is indexed again with them"):format(
          table.concat(result.installed, ", "),
          math.floor(result.seconds + 0.5),
          megabytes(result.downloaded_bytes)
        )
      )
    end
  end, {
    token = token,
    on_error = function(err)
      done()
      vim.notify("codexos: the local models were not installed: " .. err.message, vim.log.levels.ERROR)
    end,
  })
end

return M
