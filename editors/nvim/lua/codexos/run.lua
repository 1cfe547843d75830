-- :CodexRun / :CodexRetry (and replays from :CodexTrace) — run a flow through the server and
-- follow it in a console split:
-- one line per node from the `codexos/runEvent` stream, streamed text as it arrives, what the
-- policy refused or the user allowed, <C-c> cancels.
-- Each run carries its own progress token, so its events reach its console and nothing else.
local M = {}

local function append(buf, lines)
  if not vim.api.nvim_buf_is_valid(buf) then
    return
  end
  -- A buffer line cannot hold a line break: an error or a command of several lines goes on
  -- indented lines of its own.
  local split = {}
  for _, line in ipairs(lines) do
    for i, part in ipairs(vim.split(line, "\n", { plain = true })) do
      table.insert(split, i == 1 and part or ("  " .. part))
    end
  end
  lines = split
  vim.b[buf].codexos_streaming = false
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, -1, -1, false, lines)
  vim.bo[buf].modifiable = false
  for _, win in ipairs(vim.fn.win_findbuf(buf)) do
    vim.api.nvim_win_set_cursor(win, { vim.api.nvim_buf_line_count(buf), 0 })
  end
end

--- Appends streamed text to the console: the first piece after a node line starts an indented
--- line of its own, later pieces continue it (newlines in the text start new lines).
local function stream(buf, text)
  if not vim.api.nvim_buf_is_valid(buf) then
    return
  end
  local continuing = vim.b[buf].codexos_streaming
  local last = continuing and (vim.api.nvim_buf_get_lines(buf, -2, -1, false)[1] or "") or "  "
  local parts = vim.split(last .. text, "\n", { plain = true })
  for i = 2, #parts do
    parts[i] = "  " .. parts[i]
  end
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, continuing and -2 or -1, -1, false, parts)
  vim.bo[buf].modifiable = false
  vim.b[buf].codexos_streaming = true
end

--- The line for a policy decision (`decision` events), as `codexos run` prints it: refusals, and
--- what the user or the trust store allowed. What the policy allows anyway (reading a workspace
--- file, an ordinary write) is only in the run's trace.
local function decision_line(node, event)
  local decision = event.decision
  if type(decision) ~= "table" then
    return nil
  end
  local who = (node ~= "" and (node .. ": ") or "") .. (decision.tool or "?")
  -- `text` is the server's summary: "refused by you: run the shell command `…`: you denied it …".
  if decision.verdict == "refused" then
    return ("⛔ %s %s"):format(who, event.text or "refused")
  elseif decision.by ~= "policy" then
    return ("✔ %s %s"):format(who, event.text or "allowed")
  end
end

--- What a run event adds to a console.
local function show_event(buf, event)
  if event.run_id then
    vim.b[buf].codexos_run_id = event.run_id
  end
  local node = event.node or ""
  if event.kind == "node_started" then
    -- The server names the node's type in `text`: "▶ ask (llm)", as `codexos run` prints it.
    append(buf, { event.text and ("▶ %s (%s)"):format(node, event.text) or ("▶ " .. node) })
  elseif event.kind == "token" then
    stream(buf, event.text or "")
  elseif event.kind == "node_finished" then
    append(buf, { ("✓ %s (%d ms)"):format(node, event.ms or 0) })
  elseif event.kind == "node_failed" then
    append(buf, { ("✗ %s: %s"):format(node, event.text or "failed") })
  elseif event.kind == "warning" then
    append(buf, { "! " .. (event.text or "") })
  elseif event.kind == "status" then
    append(buf, { "… " .. (event.text or "") })
  elseif event.kind == "decision" then
    local line = decision_line(node, event)
    if line then
      append(buf, { line })
    end
  end
end

local function open_console(title, token)
  vim.cmd("botright 12split")
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_win_set_buf(0, buf)
  vim.api.nvim_buf_set_name(buf, ("codexos://run/%s/%d"):format(title, buf))
  vim.bo[buf].buftype = "nofile"
  vim.bo[buf].filetype = "codexos-run"
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, { "Run " .. title })
  vim.bo[buf].modifiable = false
  vim.b[buf].codexos_token = token
  vim.keymap.set("n", "<C-c>", function()
    M.cancel(buf)
  end, { buffer = buf, desc = "CodexOS: cancel this run" })
  vim.cmd.wincmd("p")
  return buf
end

local function finish(buf, result)
  local codexos = require("codexos")
  codexos.state.last_run_id = result.run_id or codexos.state.last_run_id
  local lines = { ("■ %s (run %s)"):format(result.status or "finished", result.run_id or "?") }
  if result.error and result.error ~= vim.NIL then
    table.insert(lines, "error: " .. tostring(result.error))
  end
  for _, warning in ipairs(result.warnings or {}) do
    table.insert(lines, "! " .. tostring(warning))
  end
  if result.output ~= nil and result.output ~= vim.NIL then
    local output = type(result.output) == "string" and result.output or vim.json.encode(result.output)
    table.insert(lines, "Output:")
    vim.list_extend(lines, vim.split(output, "\n", { plain = true }))
  end
  append(buf, lines)
end

--- How long a run's answer waits for the run's last events, which may arrive after it.
local LATE_EVENTS_MS = 1000

--- Executes a run command with a console that follows it. The answer can overtake the run's
--- last notifications on the wire, so the console ends once both the answer and the run's
--- `finished` event are in (or shortly after the answer, if that event never comes).
local function follow(title, command, argument)
  local codexos = require("codexos")
  if not codexos.client() then
    return
  end
  local token = codexos.new_token("run")
  local buf = open_console(title, token)
  local answer, ended, closed = nil, false, false
  local function close()
    if closed or not answer then
      return
    end
    closed = true
    codexos.unlisten(token)
    answer()
  end
  codexos.listen(token, function(event)
    if event.kind == "finished" then
      ended = true
      close()
    else
      show_event(buf, event)
    end
  end)
  local function settle(show)
    answer = show
    if ended then
      close()
    else
      vim.defer_fn(close, LATE_EVENTS_MS)
    end
  end
  codexos.execute(command, argument, function(result)
    settle(function()
      finish(buf, result or {})
    end)
  end, {
    token = token,
    on_error = function(err)
      settle(function()
        -- A run that fails still names itself (the server's error says where it stopped).
        codexos.state.last_run_id = vim.b[buf].codexos_run_id or codexos.state.last_run_id
        append(buf, { "■ failed: " .. err.message })
      end)
    end,
  })
  return buf
end

--- Runs `flow` (a path; the current buffer's file by default) with `input`.
function M.start(flow, input)
  local argument = { flow = vim.fn.fnamemodify(flow, ":p"), input = input or "", context = {} }
  return follow(vim.fn.fnamemodify(flow, ":t"), "codexos.agent.run", argument)
end

--- :CodexRun [FLOW [INPUT...]] — asks for the input when none is given.
function M.run(args)
  local flow, input = nil, nil
  if args then
    flow, input = args:match("^(%S+)%s*(.*)$")
  end
  flow = flow or vim.api.nvim_buf_get_name(0)
  if not flow:match("%.flow%.json$") then
    vim.notify("codexos: :CodexRun needs a *.flow.json (open one or pass its path)", vim.log.levels.WARN)
    return
  end
  if input and input ~= "" then
    return M.start(flow, input)
  end
  vim.ui.input({ prompt = "Input: " }, function(text)
    if text then
      M.start(flow, text)
    end
  end)
end

function M.retry()
  local run_id = require("codexos").state.last_run_id
  if not run_id then
    vim.notify("codexos: no run to retry yet", vim.log.levels.WARN)
    return
  end
  return follow("retry " .. run_id, "codexos.agent.retry", { run_id = run_id })
end

--- Runs the recorded run `run_id` again from its node `from` (`codexos.agent.replay`), with
--- `set`'s edits (`{["input"] = …, ["NODE.prompt"] = …, ["nodes.NODE.output"] = …}`) for a fork.
function M.replay(run_id, from, set)
  local argument = { run_id = run_id, from = from }
  local title = ("replay %s from %s"):format(run_id, from)
  if set and next(set) then
    argument.set = set
    title = ("fork %s from %s"):format(run_id, from)
  end
  return follow(title, "codexos.agent.replay", argument)
end

--- Cancels the console's run (its progress token; the server stops the run and its tools).
function M.cancel(buf)
  local client = require("codexos").client()
  local token = vim.b[buf].codexos_token
  if client and token then
    client:notify("window/workDoneProgress/cancel", { token = token })
    append(buf, { "■ cancel requested" })
  end
end

return M
