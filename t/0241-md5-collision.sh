#!/bin/sh
# The attack that made sha256 soc's content identity: one token holder
# pushes one half of a public md5 collision pair (Wang et al., 2004), a
# victim later pushes the other half. Named by md5, the server "already
# held" the victim's content, linked the attacker's bytes in its place and
# every machine pulled them under the victim's name. Named by sha256, the
# victim's bytes are what the server keeps and every machine gets.
. "$(dirname "$0")/lib.sh"

# The two 128-byte messages of the pair: one md5, two contents.
HALF1=d131dd02c5e6eec4693d9a0698aff95c2fcab58712467eab4004583eb8fb7f8955ad340609f4b30283e488832571415a085125e8f7cdc99fd91dbdf280373c5bd8823e3156348f5bae6dacd436c919c6dd53e2b487da03fd02396306d248cda0e99f33420f577ee8ce54b67080a80d1ec69821bcb6a8839396f9652b6ff72a70
HALF2=d131dd02c5e6eec4693d9a0698aff95c2fcab50712467eab4004583eb8fb7f8955ad340609f4b30283e4888325f1415a085125e8f7cdc99fd91dbd7280373c5bd8823e3156348f5bae6dacd436c919c6dd53e23487da03fd02396306d248cda0e99f33420f577ee8ce54b67080280d1ec69821bcb6a8839396f965ab6ff72a70

test_expect_success 'the pair: the same md5, different bytes' '
	perl -e "print pack(q(H*), \$ARGV[0])" "$HALF1" >victim.bin &&
	perl -e "print pack(q(H*), \$ARGV[0])" "$HALF2" >attacker.bin &&
	test "$(md5sum <victim.bin)" = "$(md5sum <attacker.bin)" &&
	! cmp -s victim.bin attacker.bin
'

test_expect_success_here 'a server, a token for the attacker, one for the victim' '
	start_server "$TRASH/server" &&
	soc serve token new mallory --root "$TRASH/server" >mallory.token &&
	soc serve token new alice --root "$TRASH/server" >alice.token &&
	soc init m --remote "$URL" --token-file mallory.token -q &&
	soc init a --remote "$URL" --token-file alice.token -q &&
	SOC_TOKEN=$ADMIN_TOKEN soc init b --remote "$URL" -q
'

test_expect_success 'the attacker pushes one half first, the victim the other' '
	mkdir m/junk a/reports &&
	cp attacker.bin m/junk/innocent.bin && (cd m && soc add junk -r && soc push -q) &&
	cp victim.bin a/reports/q3.bin && (cd a && soc add reports -r && soc push -q)
'

test_expect_success 'the server keeps the victim bytes under the victim name' '
	test_cmp victim.bin "$TRASH/server/files/reports/q3.bin" &&
	test_cmp attacker.bin "$TRASH/server/files/junk/innocent.bin" &&
	soc serve check --root "$TRASH/server"
'

test_expect_success 'every machine that pulls gets the victim bytes' '
	(cd b && SOC_TOKEN=$ADMIN_TOKEN soc pull -q) &&
	test_cmp victim.bin b/reports/q3.bin &&
	(cd m && soc pull -q) && test_cmp victim.bin m/reports/q3.bin &&
	(cd a && soc status --offline) >status && echo "nothing to push" >expect && test_cmp expect status
'

test_done
