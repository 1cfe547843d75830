-- CodexOS for Neovim: attaches `codexos lsp`, and adds search, flow runs, chat and inline agent
-- actions on top of it. Everything goes through the language server (docs/protocol.md); this
-- plugin only translates commands and shows results.
local M = {}

local defaults = {
  -- The server binary and its arguments.
  cmd = { "codexos", "lsp" },
  -- Files that mark a workspace root.
  root_markers = { "codexos.toml", ".codexos", ".git" },
  -- Attach to every buffer of a workspace that has been indexed (it has `.codexos/index`),
  -- not only to flow files.
  attach_to_indexed_workspaces = true,
  -- Where :CodexSearch puts its results: "quickfix" or "select".
  search_results = "quickfix",
  -- How many results :CodexSearch asks for.
  search_k = 20,
  -- The model :CodexChat asks for; nil leaves it to the chat flow's own chain.
  chat_model = nil,
}

M.config = vim.deepcopy(defaults)

--- State shared by the commands: the last run, the server's last `codexos/status`
--- (`{state = "starting" | "indexing" | "paused" | "ready" | "error", message, percentage}`),
--- and the progress tokens of index work under way (what `:CodexIndexCancel` cancels).
M.state = { last_run_id = nil, server_status = nil, index_progress = {} }

--- Titles of the server's index progress (docs/protocol.md).
local index_titles = { ["Indexing workspace"] = true, ["Upgrading search vectors"] = true }

--- `codexos/runEvent` listeners by progress token: each run, chat or action passes its own
--- token as `workDoneToken`, so its events reach the buffer that shows it.
local listeners = {}
local last_token = 0

--- A fresh progress token for a request of `kind` ("run", "chat", ...).
function M.new_token(kind)
  last_token = last_token + 1
  return ("codexos.nvim/%s/%d/%d"):format(kind, vim.fn.getpid(), last_token)
end

function M.listen(token, on_event)
  listeners[token] = on_event
end

function M.unlisten(token)
  listeners[token] = nil
end

local function is_flow(path)
  return path:match("%.flow%.json$") ~= nil
end

local function root_of(path)
  return vim.fs.root(path, M.config.root_markers) or vim.fs.dirname(path)
end

local function is_indexed(root)
  return root ~= nil and vim.uv.fs_stat(root .. "/.codexos/index") ~= nil
end

--- Starts (or reuses) the server for a buffer when it belongs to CodexOS.
function M.attach(buf)
  local path = vim.api.nvim_buf_get_name(buf)
  if path == "" or vim.bo[buf].buftype ~= "" then
    return nil
  end
  local root = root_of(path)
  if not is_flow(path) and not (M.config.attach_to_indexed_workspaces and is_indexed(root)) then
    return nil
  end
  return vim.lsp.start({
    name = "codexos",
    cmd = M.config.cmd,
    root_dir = root,
    capabilities = vim.lsp.protocol.make_client_capabilities(),
    on_init = function(client)
      require("codexos.models").tell_if_missing(client)
    end,
    handlers = {
      ["codexos/runEvent"] = function(_, event)
        local listener = listeners[event.token]
        if listener then
          listener(event)
        end
      end,
      ["codexos/status"] = function(_, status)
        M.state.server_status = status
        vim.cmd.redrawstatus()
        vim.api.nvim_exec_autocmds("User", { pattern = "CodexStatus", data = status, modeline = false })
      end,
    },
  }, { bufnr = buf })
end

--- The CodexOS client for a buffer (the current one by default), or nil with a message.
function M.client(buf)
  buf = buf or vim.api.nvim_get_current_buf()
  local client = vim.lsp.get_clients({ bufnr = buf, name = "codexos" })[1]
    or vim.lsp.get_clients({ name = "codexos" })[1]
  if not client then
    vim.notify("codexos: no server attached (open a *.flow.json or index the workspace)", vim.log.levels.WARN)
  end
  return client
end

--- Runs a `workspace/executeCommand` and calls `on_result(result)`. `opts`: `buf` (whose server;
--- the current buffer's by default), `token` (sent as `workDoneToken`: the run events and
--- progress of this command carry it), `on_error(err)` (default: an error notification).
function M.execute(command, argument, on_result, opts)
  opts = opts or {}
  local buf = opts.buf or vim.api.nvim_get_current_buf()
  local client = M.client(buf)
  if not client then
    return
  end
  local params = { command = command, arguments = { argument }, workDoneToken = opts.token }
  client:request("workspace/executeCommand", params, function(err, result)
    if err then
      if opts.on_error then
        opts.on_error(err)
      else
        vim.notify(("codexos: %s failed: %s"):format(command, err.message), vim.log.levels.ERROR)
      end
      return
    end
    if on_result then
      on_result(result)
    end
  end, buf)
end

local function command(name, fn, opts)
  vim.api.nvim_create_user_command(name, fn, opts or {})
end

function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(defaults), opts or {})
  local group = vim.api.nvim_create_augroup("codexos", { clear = true })
  vim.api.nvim_create_autocmd({ "BufReadPost", "BufNewFile" }, {
    group = group,
    callback = function(args)
      M.attach(args.buf)
    end,
  })
  -- Index progress and runs report through LSP progress; keep the statusline fresh.
  vim.api.nvim_create_autocmd("LspProgress", {
    group = group,
    callback = function(args)
      local params = args.data and args.data.params or {}
      local value = params.value or {}
      local client = vim.lsp.get_client_by_id(args.data and args.data.client_id or -1)
      if client and client.name == "codexos" then
        if value.kind == "begin" and index_titles[value.title] then
          M.state.index_progress[params.token] = client.id
        elseif value.kind == "end" then
          M.state.index_progress[params.token] = nil
        end
      end
      vim.cmd.redrawstatus()
    end,
  })
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) then
      M.attach(buf)
    end
  end

  command("CodexSearch", function(args)
    require("codexos.search").search(args.args)
  end, { nargs = "+", desc = "CodexOS: hybrid search of the workspace" })
  command("CodexRun", function(args)
    require("codexos.run").run(args.args ~= "" and args.args or nil)
  end, { nargs = "?", complete = "file", desc = "CodexOS: run a flow (the current one by default)" })
  command("CodexRetry", function()
    require("codexos.run").retry()
  end, { desc = "CodexOS: retry the last failed run from its failed node" })
  command("CodexRuns", function()
    require("codexos.runs").list()
  end, { desc = "CodexOS: the recorded runs, newest first (<CR>: a run's trace)" })
  command("CodexTrace", function(args)
    require("codexos.runs").trace(args.args)
  end, { nargs = "?", desc = "CodexOS: a run's trace (an id, `last` or an id's start); r/f on a node replays/forks" })
  command("CodexChat", function(args)
    require("codexos.chat").open(args.args ~= "" and args.args or nil)
  end, { nargs = "?", desc = "CodexOS: workspace-aware chat" })
  command("CodexExplain", function(args)
    require("codexos.actions").run("explain", args)
  end, { range = true, desc = "CodexOS: explain the selection" })
  command("CodexRefactor", function(args)
    require("codexos.actions").run("refactor", args)
  end, { range = true, nargs = "?", desc = "CodexOS: refactor the selection" })
  command("CodexModelsInstall", function(args)
    require("codexos.models").install(args.fargs)
  end, { nargs = "*", desc = "CodexOS: download and install the local models (all, or those named)" })
  command("CodexIndexPause", function()
    M.execute("codexos.index.pause", {})
  end, { desc = "CodexOS: pause indexing (searches answer from what is indexed)" })
  command("CodexIndexResume", function()
    M.execute("codexos.index.resume", {})
  end, { desc = "CodexOS: resume indexing where it stopped" })
  command("CodexIndexCancel", function()
    M.cancel_index_progress()
  end, { desc = "CodexOS: cancel the index progress shown (indexing pauses)" })
  command("CodexVaultPut", function(args)
    require("codexos.vault").put(args.args)
  end, { nargs = 1, desc = "CodexOS: add a secret to the vault (the value is asked for, hidden)" })
end

--- Cancels the index progress under way, as an editor's Cancel button does
--- (`window/workDoneProgress/cancel` on its token): the server pauses indexing until
--- `:CodexIndexResume`. Returns how many progresses were cancelled.
function M.cancel_index_progress()
  local cancelled = 0
  for token, client_id in pairs(M.state.index_progress) do
    local client = vim.lsp.get_client_by_id(client_id)
    if client then
      client:notify("window/workDoneProgress/cancel", { token = token })
      cancelled = cancelled + 1
    end
  end
  if cancelled == 0 then
    vim.notify("codexos: no index progress to cancel", vim.log.levels.INFO)
  end
  return cancelled
end

--- A statusline component: the index state ("codexos: indexing 42%", "codexos: paused",
--- "codexos: ready"), or ""
--- when no server runs. It reads `codexos/status`, so it does not consume `vim.lsp.status()`'s
--- progress messages that other statusline plugins show.
function M.status()
  if not vim.lsp.get_clients({ name = "codexos" })[1] then
    return ""
  end
  local status = M.state.server_status
  if not status then
    return "codexos: starting"
  end
  if status.state == "indexing" and status.percentage then
    return ("codexos: indexing %d%%"):format(status.percentage)
  end
  return "codexos: " .. status.state
end

return M
