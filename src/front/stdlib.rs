//! `import "name" as n;` — the stdlib modules are compiled into the binary, so they work from any
//! directory; any other path is looked up relative to the importing script (then the working
//! directory), as rhai's file resolver does.

use rhai::module_resolvers::FileModuleResolver;
use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};
use std::collections::HashMap;
use std::sync::RwLock;

/// The embedded modules: `stdlib/<name>.rhai`.
pub const MODULES: &[(&str, &str)] = &[
    ("experiment", include_str!("../../stdlib/experiment.rhai")),
    ("plots", include_str!("../../stdlib/plots.rhai")),
    ("stats", include_str!("../../stdlib/stats.rhai")),
    ("table", include_str!("../../stdlib/table.rhai")),
];

pub struct StdlibResolver {
    files: FileModuleResolver,
    cache: RwLock<HashMap<String, Shared<Module>>>,
}

impl StdlibResolver {
    pub fn new() -> Self {
        StdlibResolver {
            files: FileModuleResolver::new(),
            cache: RwLock::new(HashMap::new()),
        }
    }
}

impl Default for StdlibResolver {
    fn default() -> Self {
        Self::new()
    }
}

impl ModuleResolver for StdlibResolver {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        let Some((_, text)) = MODULES.iter().find(|(name, _)| *name == path) else {
            return self.files.resolve(engine, source, path, pos);
        };
        if let Some(m) = self
            .cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(path)
        {
            return Ok(m.clone());
        }
        let mut ast = engine
            .compile(text)
            .map_err(|e| EvalAltResult::ErrorInModule(path.to_string(), e.into(), pos))?;
        ast.set_source(format!("stdlib/{path}.rhai"));
        let module: Shared<Module> = Module::eval_ast_as_new(Scope::new(), &ast, engine)
            .map_err(|e| EvalAltResult::ErrorInModule(path.to_string(), e, pos))?
            .into();
        self.cache
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(path.to_string(), module.clone());
        Ok(module)
    }
}
