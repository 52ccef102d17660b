package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/cli/internal/option"
)

// completionFlag is urfave/cli's hidden flag: a command line ending in it
// prints the candidates for the next word instead of running.
const completionFlag = "--generate-bash-completion"

// The scripts ask referee itself for candidates (commands, subcommands,
// flags), so they never go stale; where it has none, files are offered.
const bashCompletion = `# bash completion for referee: source <(referee completion bash)
_referee_complete() {
  local cur="${COMP_WORDS[COMP_CWORD]}" opts
  if [[ "$cur" == -* ]]; then
    # "--" would end the flags for referee: ask for all of them with "-".
    local ask="$cur"; [[ "$ask" == "--" ]] && ask="-"
    opts=$("${COMP_WORDS[0]}" "${COMP_WORDS[@]:1:COMP_CWORD-1}" "$ask" ` + completionFlag + ` 2>/dev/null)
  else
    opts=$("${COMP_WORDS[0]}" "${COMP_WORDS[@]:1:COMP_CWORD-1}" ` + completionFlag + ` 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -o default -o bashdefault -F _referee_complete referee
`

const zshCompletion = `#compdef referee
# zsh completion for referee: source <(referee completion zsh), or save it as _referee in $fpath
_referee() {
  local cur="${words[CURRENT]}"
  local -a opts
  if [[ "$cur" == -* ]]; then
    local ask="$cur"; [[ "$ask" == "--" ]] && ask="-"
    opts=("${(@f)$(_CLI_ZSH_AUTOCOMPLETE_HACK=1 ${words[1]} ${words[2,CURRENT-1]} "$ask" ` + completionFlag + ` 2>/dev/null)}")
  else
    opts=("${(@f)$(_CLI_ZSH_AUTOCOMPLETE_HACK=1 ${words[1]} ${words[2,CURRENT-1]} ` + completionFlag + ` 2>/dev/null)}")
  fi
  if [[ -n "${opts[1]}" ]]; then
    _describe 'referee' opts
  else
    _files
  fi
}
if [[ "$funcstack[1]" == "_referee" ]]; then _referee "$@"; else compdef _referee referee; fi
`

// completeCommand prints the candidates for the word after cmd's
// arguments: nothing after a flag that takes a value (the shell then offers
// files), else urfave/cli's subcommands and flags. urfave reads the words
// from os.Args.
func completeCommand(cmd *cli.Command) cli.BashCompleteFunc {
	return func(c *cli.Context) {
		if n := len(os.Args); n > 2 {
			if prev := os.Args[n-2]; len(prev) > 1 && prev[0] == '-' && takesValue(cmd, strings.TrimLeft(prev, "-")) {
				return
			}
		}
		if len(cmd.Subcommands) == 0 && (len(os.Args) < 3 || !strings.HasPrefix(os.Args[len(os.Args)-2], "-")) {
			return // arguments, not flags: the shell offers files
		}
		cli.DefaultCompleteWithFlags(cmd)(c)
	}
}

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: `Completes commands, subcommands and flags (and files elsewhere).

Examples:
   source <(referee completion bash)            # in ~/.bashrc
   referee completion zsh > "${fpath[1]}/_referee"
   referee completion fish > ~/.config/fish/completions/referee.fish`,
		BashComplete: func(c *cli.Context) {
			if c.NArg() == 0 {
				fmt.Fprintln(c.App.Writer, "bash\nzsh\nfish")
			}
		},
		Action: func(c *cli.Context) error {
			if err := requireArgs(c, 1, 1, "one shell: bash, zsh or fish"); err != nil {
				return err
			}
			var script string
			switch sh := c.Args().First(); sh {
			case "bash":
				script = bashCompletion
			case "zsh":
				script = zshCompletion
			case "fish":
				s, err := c.App.ToFishCompletion()
				if err != nil {
					return fmt.Errorf("fish completion: %w", err)
				}
				script = s
			default:
				return option.Usagef("completion for %q: want bash, zsh or fish", sh)
			}
			_, err := fmt.Fprint(c.App.Writer, script)
			return err
		},
	}
}
