-- :CodexVaultPut KEY — asks for the value without echoing it and stores it in the vault.
local M = {}

function M.put(key, value)
  value = value or vim.fn.inputsecret(("Value for %s: "):format(key))
  if value == "" then
    vim.notify("codexos: nothing stored (empty value)", vim.log.levels.WARN)
    return
  end
  require("codexos").execute("codexos.vault.put", { key = key, value = value, tags = {} }, function()
    vim.notify(("codexos: %s stored in the vault"):format(key))
  end)
end

return M
