-- :CodexRuns, :CodexTrace and replays from a trace's node lines against the real server, whose
-- OpenAI-compatible calls go to the test's fake provider (tests/nvim.rs): a five-node run fails
-- at its tool node; the trace shows it node by node; `r` on `draft` replays from there without
-- asking `plan` again, `f` forks with an edited prompt; the replays' traces name their parent;
-- a node that never ran is refused by the server and nothing runs.
local H = dofile(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)) .. "/helpers.lua")

H.setup_plugin()
vim.fn.writefile(vim.split(os.getenv("CODEXOS_FIVE_NODE_FLOW"), "\n"), H.workspace .. "/flows/five.flow.json")
H.open_attached("flows/five.flow.json")
H.step("codexos lsp attached")

--- Puts the cursor of the current window on the first line of its buffer starting with `prefix`.
local function cursor_on(prefix)
  local buf = vim.api.nvim_get_current_buf()
  for number, line in ipairs(H.lines(buf)) do
    if vim.startswith(line, prefix) then
      vim.api.nvim_win_set_cursor(0, { number, 0 })
      return
    end
  end
  H.fail(("no line starting with `%s` in:\n%s"):format(prefix, H.text(buf)))
end

local function press(keys)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(keys, true, false, true), "x", false)
end

local function expect_lines(what, buf, patterns)
  local text = H.text(buf)
  for _, pattern in ipairs(patterns) do
    if not text:find(pattern) then
      H.fail(("%s: nothing matches `%s` in:\n%s"):format(what, pattern, text))
    end
  end
end

vim.cmd("CodexRun flows/five.flow.json q")
local _, lines = H.finished_console("^codexos://run/five%.flow%.json/", "■ failed")
local parent
for _, line in ipairs(lines) do
  parent = parent or line:match("^■ failed %(run ([%w-]+)%)$")
end
if not parent then
  H.fail("no run id in:\n" .. table.concat(lines, "\n"))
end
vim.fn.writefile({ "notes" }, H.workspace .. "/notes.txt")

vim.cmd("CodexRuns")
local runs = H.wait("the runs buffer", function()
  return H.buffer_named("^codexos://runs$")
end)
expect_lines("the runs buffer", runs, { "\n" .. vim.pesc(parent) .. "  failed%s+five%s.*read$" })
cursor_on(parent)
press("<CR>")
local trace = H.wait("the failed run's trace", function()
  return H.buffer_named("^codexos://trace/" .. vim.pesc(parent) .. "$")
end)
expect_lines("the failed run's trace", trace, {
  "^Run " .. vim.pesc(parent) .. " of five: failed in %d+ ms",
  "\ninput: q\n",
  "\n✓ start %(entry%) · %d+ ms",
  "\n✓ plan %(llm%) · %d+ ms · openai/gpt%-4o%-mini  It doubles the delay before each attempt%.",
  "\n✓ draft %(llm%)",
  "\n✗ read %(tool%) · %d+ ms  error: ",
})
if H.text(trace):find("\n. end ") then
  H.fail("`end` never ran, so the trace should not show it:\n" .. H.text(trace))
end
H.step(":CodexRuns and :CodexTrace: " .. table.concat(H.lines(trace), " | "))

-- `r` on `draft`: a replay from there; `plan` keeps its recorded output.
vim.api.nvim_set_current_win(vim.fn.win_findbuf(trace)[1])
cursor_on("✓ draft")
press("r")
local _, replayed = H.finished_console("^codexos://run/replay " .. vim.pesc(parent) .. " from draft/", "■ succeeded")
if vim.tbl_contains(replayed, "▶ plan (llm)") or not vim.tbl_contains(replayed, "▶ draft (llm)") then
  H.fail("the replay should run draft and not plan:\n" .. table.concat(replayed, "\n"))
end
H.step("r replays from draft: " .. table.concat(replayed, " | "))

vim.cmd("CodexTrace last")
local replay_trace = H.wait("the replay's trace", function()
  local buf = vim.api.nvim_get_current_buf()
  return vim.api.nvim_buf_get_name(buf):match("^codexos://trace/") and H.text(buf):find("replay of", 1, true) and buf
end)
expect_lines("the replay's trace", replay_trace, {
  "\nreplay of " .. vim.pesc(parent) .. " from draft\n",
  "\n↺ plan · 0 ms · replayed from run " .. vim.pesc(parent),
  "\n✓ read %(tool%)",
  "\n✓ end %(exit%)",
  "\noutput:\n",
})
H.step("the replay's trace names its parent")

-- `f` on `draft`: a fork with an edited prompt (the edits are asked for with vim.ui.input).
local answers = { "draft.prompt=Shorter: {{nodes.plan.output}}", "" }
local asked = {}
vim.ui.input = function(opts, on_confirm)
  table.insert(asked, opts.default or "")
  on_confirm(table.remove(answers, 1))
end
vim.cmd("CodexTrace " .. parent)
cursor_on("✓ draft")
press("f")
H.finished_console("^codexos://run/fork " .. vim.pesc(parent) .. " from draft/", "■ succeeded")
if asked[1] ~= "draft.prompt=" then
  H.fail("the first edit asked for should start as draft's prompt, not " .. vim.inspect(asked))
end
vim.cmd("CodexTrace last")
expect_lines("the fork's trace", vim.api.nvim_get_current_buf(), {
  "\nfork of " .. vim.pesc(parent) .. " from draft %(set draft%.prompt%)\n",
})
H.step("f forks from draft with an edited prompt")

-- A node that never ran: the server refuses and nothing runs.
require("codexos.run").replay(parent, "end")
local _, refused = H.finished_console("^codexos://run/replay " .. vim.pesc(parent) .. " from end/", "■ failed")
if not table.concat(refused, "\n"):find("node `end` never ran in run " .. parent, 1, true) then
  H.fail("the refusal should name the node:\n" .. table.concat(refused, "\n"))
end
H.step("a node that never ran is refused")

H.no_errors()
vim.cmd("qa!")
