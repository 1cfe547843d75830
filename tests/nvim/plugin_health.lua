-- :checkhealth codexos on a machine without the local models: it names what is missing and the
-- command that installs it, says flows run on the local model when no provider answers, and
-- reports no error (the binary is found).
local H = dofile(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)) .. "/helpers.lua")

vim.opt.runtimepath:append(H.repo .. "/editors/nvim")
require("codexos").setup()
vim.cmd("checkhealth codexos")
local health = H.wait("the health report", function()
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.bo[buf].filetype == "checkhealth" and H.text(buf):find("no codexos server running", 1, true) then
      return H.text(buf)
    end
  end
end, function()
  return vim.inspect(vim.tbl_map(H.text, vim.api.nvim_list_bufs()))
end)
for _, expected in ipairs({
  "OK Neovim",
  "codexos 0.1",
  "local models not installed: minilm, smollm2, static-minilm",
  "codexos models install",
  "provider openai skipped: no API key (set OPENAI_API_KEY)",
}) do
  if not health:find(expected, 1, true) then
    H.fail("the health report lacks `" .. expected .. "`:\n" .. health)
  end
end
if health:find("ERROR", 1, true) then
  H.fail("the health report has an error:\n" .. health)
end
H.step("checkhealth names the missing models and the command")
vim.cmd("qa!")
