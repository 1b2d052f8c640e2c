import {EditorView, keymap, lineNumbers, highlightActiveLine, drawSelection, placeholder} from "@codemirror/view";
import {EditorState, Compartment} from "@codemirror/state";
import {history, defaultKeymap, historyKeymap, indentWithTab} from "@codemirror/commands";
import {syntaxHighlighting, defaultHighlightStyle, bracketMatching, HighlightStyle} from "@codemirror/language";
import {tags} from "@lezer/highlight";
import {sql, StandardSQL} from "@codemirror/lang-sql";
import {autocompletion, completionKeymap, closeBrackets, closeBracketsKeymap} from "@codemirror/autocomplete";
window.LakeboxCM = {EditorView, keymap, lineNumbers, highlightActiveLine, drawSelection, placeholder, EditorState,
  Compartment, history, defaultKeymap, historyKeymap, indentWithTab, syntaxHighlighting, defaultHighlightStyle,
  bracketMatching, HighlightStyle, tags, sql, StandardSQL, autocompletion, completionKeymap, closeBrackets,
  closeBracketsKeymap};
