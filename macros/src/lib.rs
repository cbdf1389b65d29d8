//! `#[derive(Tree)]` for rjax: a struct's array fields become the leaves of a
//! tree, in declaration order. Fields marked `#[tree(skip)]` are not leaves;
//! they are cloned when the tree is rebuilt.

use proc_macro::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields, parse_macro_input};

fn skipped(attrs: &[syn::Attribute]) -> syn::Result<bool> {
    let mut skip = false;
    for a in attrs.iter().filter(|a| a.path().is_ident("tree")) {
        a.parse_nested_meta(|m| {
            if m.path.is_ident("skip") {
                skip = true;
                Ok(())
            } else {
                Err(m.error("unknown tree attribute; the only one is #[tree(skip)]"))
            }
        })?;
    }
    Ok(skip)
}

/// Derives `rjax::Tree` for a struct with named or tuple fields.
#[proc_macro_derive(Tree, attributes(tree))]
pub fn derive_tree(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand(input: &DeriveInput) -> syn::Result<proc_macro2::TokenStream> {
    let name = &input.ident;
    let (impl_g, ty_g, _) = input.generics.split_for_impl();
    let fields = match &input.data {
        Data::Struct(s) => &s.fields,
        _ => return Err(syn::Error::new_spanned(name, "#[derive(Tree)] supports structs only")),
    };
    let mut leaves = Vec::new();
    let mut rebuild = Vec::new();
    let mut keys = Vec::new();
    let mut defs = Vec::new();
    // every leaf field's type must be a Tree (as serde bounds field types), so
    // generic structs need no hand-written bounds
    let mut where_g = input.generics.where_clause.clone().unwrap_or_else(|| syn::parse_quote!(where));
    for (i, f) in fields.iter().enumerate() {
        let member: syn::Member = match &f.ident {
            Some(id) => syn::Member::Named(id.clone()),
            None => syn::Member::Unnamed(syn::Index::from(i)),
        };
        let key = match &f.ident {
            Some(id) => id.to_string(),
            None => i.to_string(),
        };
        let value = if skipped(&f.attrs)? {
            quote! { ::std::clone::Clone::clone(&self.#member) }
        } else {
            let ty = &f.ty;
            where_g.predicates.push(syn::parse_quote!(#ty: ::rjax::Tree));
            leaves.push(quote! { ::rjax::Tree::leaves_into(&self.#member, out); });
            keys.push(key);
            defs.push(quote! { ::rjax::Tree::def(&self.#member) });
            quote! { ::rjax::Tree::rebuild(&self.#member, leaves) }
        };
        rebuild.push(match &f.ident {
            Some(id) => quote! { #id: #value },
            None => quote! { #value },
        });
    }
    let body = match fields {
        Fields::Named(_) => quote! { #name { #(#rebuild),* } },
        Fields::Unnamed(_) => quote! { #name ( #(#rebuild),* ) },
        Fields::Unit => quote! { #name },
    };
    let kind = name.to_string();
    Ok(quote! {
        impl #impl_g ::rjax::Tree for #name #ty_g #where_g {
            fn leaves_into(&self, out: &mut ::std::vec::Vec<::rjax::Array>) {
                #(#leaves)*
            }
            fn rebuild(&self, leaves: &mut dyn ::std::iter::Iterator<Item = ::rjax::Array>) -> Self {
                #body
            }
            fn def(&self) -> ::rjax::tree::TreeDef {
                ::rjax::tree::TreeDef::Node {
                    kind: #kind.to_string(),
                    keys: ::std::vec![#(#keys.to_string()),*],
                    children: ::std::vec![#(#defs),*],
                }
            }
        }
    })
}
