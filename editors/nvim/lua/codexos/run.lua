-- :CodexRun / :CodexRetry — run a flow through the server and follow it in a console split:
-- one line per node from the `codexos/runEvent` stream, streamed text as it arrives, <C-c> cancels.
local M = {}

--- Console buffers by run token; the console opened last waits for its token.
local consoles = {}
local pending = nil

local function append(buf, lines)
  if not vim.api.nvim_buf_is_valid(buf) then
    return
  end
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, -1, -1, false, lines)
  vim.bo[buf].modifiable = false
  for _, win in ipairs(vim.fn.win_findbuf(buf)) do
    vim.api.nvim_win_set_cursor(win, { vim.api.nvim_buf_line_count(buf), 0 })
  end
end

--- Appends streamed text to the console's last line, splitting on newlines.
local function stream(buf, text)
  if not vim.api.nvim_buf_is_valid(buf) then
    return
  end
  local last = vim.api.nvim_buf_get_lines(buf, -2, -1, false)[1] or ""
  local parts = vim.split(last .. text, "\n", { plain = true })
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, -2, -1, false, parts)
  vim.bo[buf].modifiable = false
end

local function open_console(title)
  vim.cmd("botright 12split")
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_win_set_buf(0, buf)
  vim.api.nvim_buf_set_name(buf, ("codexos://run/%s/%d"):format(title, buf))
  vim.bo[buf].buftype = "nofile"
  vim.bo[buf].filetype = "codexos-run"
  vim.bo[buf].modifiable = false
  append(buf, { "▶ " .. title })
  vim.keymap.set("n", "<C-c>", function()
    M.cancel(buf)
  end, { buffer = buf, desc = "CodexOS: cancel this run" })
  vim.cmd.wincmd("p")
  pending = buf
  return buf
end

local function console_for(event)
  local buf = consoles[event.token]
  if not buf and pending then
    buf = pending
    consoles[event.token] = buf
    vim.b[buf].codexos_token = event.token
    vim.b[buf].codexos_run_id = event.run_id
    pending = nil
  end
  return buf
end

--- A chat waiting for its answer takes the streamed text of runs that have no console.
M.stream_into = nil

function M.on_event(event)
  if M.stream_into and not consoles[event.token] and not pending then
    if event.kind == "token" then
      stream(M.stream_into, event.text or "")
    end
    return
  end
  local buf = console_for(event)
  if not buf then
    return
  end
  local node = event.node or ""
  if event.kind == "node_started" then
    append(buf, { "▶ " .. node, "" })
  elseif event.kind == "token" then
    stream(buf, event.text or "")
  elseif event.kind == "node_finished" then
    append(buf, { ("✓ %s (%d ms)"):format(node, event.ms or 0) })
  elseif event.kind == "node_failed" then
    append(buf, { ("✗ %s: %s"):format(node, event.text or "failed") })
  elseif event.kind == "warning" then
    append(buf, { "! " .. (event.text or "") })
  end
end

local function finish(buf, result)
  local codexos = require("codexos")
  codexos.state.last_run_id = result.run_id
  local lines = { ("■ %s (run %s)"):format(result.status or "finished", result.run_id or "?") }
  if result.error then
    table.insert(lines, "error: " .. tostring(result.error))
  end
  for _, warning in ipairs(result.warnings or {}) do
    table.insert(lines, "! " .. tostring(warning))
  end
  if result.output ~= nil then
    table.insert(lines, "Output:")
    vim.list_extend(lines, vim.split(tostring(result.output), "\n", { plain = true }))
  end
  append(buf, lines)
end

--- Runs `flow` (a path; the current buffer's file by default) with `input`.
function M.start(flow, input)
  local codexos = require("codexos")
  local client = codexos.client()
  if not client then
    return
  end
  local buf = open_console(vim.fn.fnamemodify(flow, ":t"))
  local argument = { flow = vim.fn.fnamemodify(flow, ":p"), input = input or "", context = {} }
  codexos.execute("codexos.agent.run", argument, function(result)
    finish(buf, result or {})
  end)
  return buf
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
  local codexos = require("codexos")
  local run_id = codexos.state.last_run_id
  if not run_id then
    vim.notify("codexos: no run to retry yet", vim.log.levels.WARN)
    return
  end
  local buf = open_console("retry " .. run_id)
  codexos.execute("codexos.agent.retry", { run_id = run_id }, function(result)
    finish(buf, result or {})
  end)
end

function M.cancel(buf)
  local client = require("codexos").client()
  local token = vim.b[buf].codexos_token
  if client and token then
    client:notify("window/workDoneProgress/cancel", { token = token })
    append(buf, { "■ cancel requested" })
  end
end

return M
