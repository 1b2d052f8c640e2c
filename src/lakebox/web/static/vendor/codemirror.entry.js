// Entry point of static/vendor/codemirror.min.js: what lakebox's editor.js uses, as window.LakeboxCM.
import {EditorView, keymap, lineNumbers, highlightActiveLine, drawSelection} from "@codemirror/view";
import {EditorState, Compartment} from "@codemirror/state";
import {history, defaultKeymap, historyKeymap} from "@codemirror/commands";
import {syntaxHighlighting, bracketMatching} from "@codemirror/language";
import {classHighlighter} from "@lezer/highlight";
import {sql, StandardSQL} from "@codemirror/lang-sql";
import {autocompletion, completionKeymap, closeBrackets, closeBracketsKeymap} from "@codemirror/autocomplete";
window.LakeboxCM = {EditorView, keymap, lineNumbers, highlightActiveLine, drawSelection, EditorState, Compartment,
  history, defaultKeymap, historyKeymap, syntaxHighlighting, bracketMatching, classHighlighter, sql, StandardSQL,
  autocompletion, completionKeymap, closeBrackets, closeBracketsKeymap};
