-- CodexOS in Neovim 0.11 without a plugin: start `codexos lsp` for every *.flow.json buffer.
vim.api.nvim_create_autocmd({ "BufReadPost", "BufNewFile" }, {
  pattern = "*.flow.json",
  callback = function(args)
    vim.lsp.start({
      name = "codexos",
      cmd = { "codexos", "lsp" },
      root_dir = vim.fs.root(args.buf, { "codexos.toml", ".git" }) or vim.fs.dirname(args.file),
    })
  end,
})
