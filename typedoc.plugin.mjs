// A typedoc plugin for one gap in its not-documented validation: a type literal's members that
// come from a mapped type have no declaration, so there is no comment to write. zod's
// `z.enum(['pending', ...])` is one: its type holds `{ pending: 'pending', ... }`, and typedoc
// expands it wherever the default catalog appears (`C extends Catalog = DefaultCatalog` on every
// generic function). Each such member gets a comment naming its value, so the validation keeps
// failing on every member that does have a declaration and lacks a comment.
import { Comment, Converter, ReflectionKind } from 'typedoc'

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    if (!reflection.kindOf(ReflectionKind.Property) || reflection.comment) return
    if (!reflection.parent?.kindOf(ReflectionKind.TypeLiteral)) return
    const declarations = context.getSymbolFromReflection(reflection)?.declarations ?? []
    if (declarations.length > 0) return
    reflection.comment = new Comment([{ kind: 'code', text: `\`${JSON.stringify(reflection.name)}\`` }])
  })
}
