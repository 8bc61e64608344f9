import js from "@eslint/js";
import { createNodeResolver, importX } from "eslint-plugin-import-x";
import tseslint from "typescript-eslint";

/**
 * The layer rule (docs/architecture.md §1): core → sources / psa → store → services → app.ts → jobs → http / cli.
 * A folder imports only from folders before it; src/security, src/config.ts and src/log.ts are a base every layer
 * may use. Checked on resolved paths, type-only imports included.
 */
const BASE = ["./security", "./config.ts", "./log.ts"];
const layer = (target, allowed, message) => ({
  target,
  from: "./src",
  except: [...allowed, ...BASE],
  message,
});
const LAYER_ZONES = [
  {
    target: "./src/core",
    from: "./src",
    except: ["./core"],
    message: "src/core is pure: it imports only src/core.",
  },
  layer("./src/sources", ["./core", "./sources"], "src/sources imports only src/core and the base layer."),
  layer(
    "./src/psa",
    ["./core", "./psa"],
    "src/psa imports only src/core and the base layer (the port is in src/psa).",
  ),
  layer("./src/notify", ["./core", "./notify"], "src/notify imports only src/core and the base layer."),
  layer("./src/store", ["./core", "./store"], "src/store imports only src/core and the base layer."),
  {
    target: "./src/store/migrations",
    from: "./src",
    except: ["./store/migrations"],
    message: "Migrations are frozen: they import no live code or constants (copy what they need).",
  },
  {
    target: [
      "./src/core",
      "./src/sources",
      "./src/psa",
      "./src/notify",
      "./src/services",
      "./src/jobs",
      "./src/http",
      "./src/cli",
    ],
    from: "./src/store/migrations",
    message: "Live code does not import migrations; move the constant to a live module.",
  },
  layer(
    "./src/services",
    ["./core", "./sources", "./psa", "./notify", "./store", "./services"],
    "src/services imports only core, sources, psa, store and the base layer (declare what you need of the app).",
  ),
  {
    target: "./src/jobs",
    from: ["./src/http", "./src/cli"],
    message: "src/jobs imports services and below, never http or cli.",
  },
  {
    target: "./emulators",
    from: "./src",
    except: ["./core", "./sources", "./psa/shared/json.ts"],
    message:
      "The emulators import only src/core, src/sources (billing-data readers) and src/psa/shared/json.ts of the product.",
  },
];
const NO_EMULATORS_ZONE = {
  target: "./src",
  from: "./emulators",
  message: "The product never imports the emulators (only the CLI's emulator and demo commands do).",
};

export default tseslint.config(
  { ignores: ["node_modules/", "data/", "dist/", "web/dist/", "test-results/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        URL: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-console": "off",
      eqeqeq: ["error", "always"],
    },
  },
  {
    files: ["src/**/*.ts", "emulators/**/*.ts"],
    plugins: { "import-x": importX },
    settings: {
      "import-x/extensions": [".ts", ".js"],
      "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
      "import-x/resolver-next": [createNodeResolver({ extensions: [".ts", ".js"] })],
    },
    rules: {
      "import-x/no-restricted-paths": ["error", { zones: [...LAYER_ZONES, NO_EMULATORS_ZONE] }],
      // No circular imports, dynamic and type-only imports included.
      "import-x/no-cycle": ["error", { ignoreExternal: true }],
    },
  },
  {
    // http and cli parse input and format output: tables are read and written by src/store repositories and
    // src/services, never queried here (docs/architecture.md §1).
    files: ["src/http/**/*.ts", "src/cli/**/*.ts"],
    rules: {
      "no-restricted-syntax": [
        "error",
        {
          // store.db and app.store.db (not --db flags such as values.db)
          selector:
            "MemberExpression[property.name='db']:matches([object.name='store'], [object.property.name='store'])",
          message:
            "src/http and src/cli do not touch the database: call a src/store repository or a service.",
        },
        {
          selector:
            "CallExpression[callee.property.name=/^(selectFrom|insertInto|updateTable|deleteFrom|replaceInto|mergeInto)$/]",
          message:
            "src/http and src/cli do not query tables: move the query to a src/store repository or a service.",
        },
        {
          selector: "CallExpression[callee.name=/^(selectFrom|insertInto|updateTable|deleteFrom)$/]",
          message:
            "src/http and src/cli do not query tables: move the query to a src/store repository or a service.",
        },
      ],
    },
  },
  {
    // The two commands that start the emulators.
    files: ["src/cli/commands/emulator.ts", "src/cli/commands/demo.ts"],
    rules: { "import-x/no-restricted-paths": ["error", { zones: LAYER_ZONES }] },
  },
);
