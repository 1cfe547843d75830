-- :CodexRun, <C-c> and :CodexRetry against the real server, whose OpenAI-compatible calls go to
-- the test's fake provider (tests/nvim.rs): the console split shows one line per node as the run
-- goes and the model's streamed text; a failed run is retried from its failed node; <C-c> in the
-- console cancels a run whose model is still streaming.
local H = dofile(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)) .. "/helpers.lua")

local progress_titles = {}
vim.api.nvim_create_autocmd("LspProgress", {
  callback = function(args)
    local value = args.data.params.value
    if value.kind == "end" then
      progress_titles[#progress_titles + 1] = ("%s: %s"):format(value.title, value.message or "")
    end
  end,
})

H.setup_plugin()
local codexos = require("codexos")
H.open_attached("flows/flaky.flow.json")
H.step("codexos lsp attached")

--- Fails unless each Lua pattern matches a line of `lines`, in this order.
local function assert_in_order(what, lines, patterns)
  local at = 1
  for _, pattern in ipairs(patterns) do
    while at <= #lines and not lines[at]:find(pattern) do
      at = at + 1
    end
    if at > #lines then
      H.fail(("%s: no line matching `%s` (in order) in:\n%s"):format(what, pattern, table.concat(lines, "\n")))
    end
    at = at + 1
  end
end

-- A run that fails at its tool node: later.txt does not exist yet.
vim.cmd("CodexRun flows/flaky.flow.json release notes")
local first, lines = H.finished_console("^codexos://run/flaky%.flow%.json/", "■ failed")
assert_in_order("the failed run's console", lines, {
  "^Run flaky%.flow%.json$",
  "^▶ start %(entry%)$",
  "^✓ start %(%d+ ms%)$",
  "^▶ ask %(llm%)$",
  "^  The answer$",
  "^✓ ask %(%d+ ms%)$",
  "^▶ read %(tool%)$",
  "^✗ read: .*later%.txt",
  "^■ failed %(run [%w-]+%)$",
})
local failed_run
for _, line in ipairs(lines) do
  failed_run = failed_run or line:match("^■ failed %(run ([%w-]+)%)$")
end
if not failed_run then
  H.fail("no run id in:\n" .. table.concat(lines, "\n"))
end
if codexos.state.last_run_id ~= failed_run then
  H.fail(("the failed run %s should be the one to retry, the plugin has %s"):format(failed_run, tostring(codexos.state.last_run_id)))
end
if #vim.fn.win_findbuf(first) ~= 1 then
  H.fail("the console should be shown in a split")
end
H.step("run console: " .. table.concat(lines, " | "))

-- :CodexRetry continues from the failed node, now that the file is there.
vim.fn.writefile({ "now here" }, H.workspace .. "/later.txt")
vim.cmd("CodexRetry")
local _, retried = H.finished_console("^codexos://run/retry " .. vim.pesc(failed_run) .. "/", "■ succeeded")
assert_in_order("the retried run's console", retried, {
  "^Run retry " .. vim.pesc(failed_run) .. "$",
  "^▶ read %(tool%)$",
  "^✓ read %(%d+ ms%)$",
  "^■ succeeded %(run [%w-]+%)$",
  "^Output:$",
  "^The answer / now here$",
})
if vim.tbl_contains(retried, "▶ ask (llm)") then
  H.fail("the retry should replay the model's answer, not ask again:\n" .. table.concat(retried, "\n"))
end
H.step("retry console: " .. table.concat(retried, " | "))

-- <C-c> in the console of a run whose model is still streaming cancels it.
vim.cmd("CodexRun flows/slow.flow.json patience")
local slow = H.wait("the slow run's console", function()
  return H.buffer_named("^codexos://run/slow%.flow%.json/")
end)
H.wait("the slow model to stream", function()
  return H.text(slow):find("\n  tick tick", 1, true) ~= nil
end, function()
  return H.text(slow)
end)
vim.api.nvim_set_current_win(vim.fn.win_findbuf(slow)[1])
vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes("<C-c>", true, false, true), "x", false)
local _, cancelled = H.finished_console("^codexos://run/slow%.flow%.json/", "■ cancelled")
assert_in_order("the cancelled run's console", cancelled, {
  "^▶ ponder %(llm%)$",
  "^  tick tick",
  "^■ cancel requested$",
  "^■ cancelled %(run [%w-]+%)$",
})
H.step("<C-c> cancelled the slow run: " .. cancelled[#cancelled])

-- The same runs reported LSP progress (vim.lsp.status(), statusline plugins).
local ends = table.concat(progress_titles, "\n")
for _, expected in ipairs({ "Running flaky: ✗ failed", "Retrying flaky", "Running slow: cancelled" }) do
  if not ends:find(expected, 1, true) then
    H.fail("no progress ending `" .. expected .. "` in:\n" .. ends)
  end
end
H.step("LSP progress for each run")

H.no_errors()
vim.cmd("qa!")
