// The pages import their stylesheets; the playground's bundler (esbuild) turns them into one CSS file.
declare module '*.css'
